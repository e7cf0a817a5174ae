package sim

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// psk is the pre-shared key of the simulated members' participants.
var psk = []byte("conclave simulator")

// participant is membershiptest's participant of one simulated process,
// which records for the Checker which decisions it confirmed.
type participant struct {
	*membershiptest.Participant
	confirmed map[membership.ViewID]bool
	r         *run
	p         int
	auths     []viewAuth // as securePart's, for the attackers' tests
}

// newParticipant makes process p's participant. Its randomness comes from
// the seed; how it pads and delegates follows from the seed too, the same
// at every member of a run, so that across seeds the handshakes and
// decisions come both within one datagram and in fragments, decided by the
// coordinator or by a member it delegates to.
func (r *run) newParticipant(p int, self membership.Endpoint) *participant {
	seed := r.cfg.Seed
	mp := &membershiptest.Participant{
		Self:       self,
		PSK:        psk,
		Name:       fmt.Sprintf("m%d", p),
		Rand:       seeded(mix(seed, streamParticipant, uint64(p))),
		Delegate:   seed&1 == 1,
		RekeyEvery: r.rekeyEvery,
	}
	if seed&2 != 0 {
		mp.HandshakePad = 2 * 1400 // the handshake's first message in fragments
	}
	if seed&4 != 0 {
		mp.CommonPad, mp.PartPad = 4000, 300 // decisions in fragments
	}
	return &participant{Participant: mp, confirmed: make(map[membership.ViewID]bool), r: r, p: p}
}

// Process implements membership.Participant, noting the confirmation.
func (p *participant) Process(next membership.View, common, own []byte) ([]byte, error) {
	if p.r.sec != nil {
		p.r.observeCommit(p.p, next, common, own)
	}
	conf, err := p.Participant.Process(next, common, own)
	if err == nil {
		p.confirmed[next.ID] = true
	}
	return conf, err
}

// EpochDigest implements Decisions: the test participant's fingerprint of
// the secret installed with view id.
func (p *participant) EpochDigest(id membership.ViewID) ([32]byte, bool) {
	fp, ok := p.Epoch(id)
	var d [32]byte
	binary.BigEndian.PutUint64(d[:], fp)
	return d, ok
}

// Confirmed implements Decisions.
func (p *participant) Confirmed(id membership.ViewID) bool { return p.confirmed[id] }

// seeded is a reader of random bytes drawn from seed.
func seeded(seed uint64) *rand.ChaCha8 {
	var key [32]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	return rand.NewChaCha8(key)
}

// rekeys sets every participant's RekeyEvery: a rekey round once a view has
// lasted that many ticks; 0, none.
func (r *run) rekeys(every int) {
	r.rekeyEvery = every
	for _, pr := range r.procs {
		if tp, ok := pr.part.(*participant); ok {
			tp.RekeyEvery = every
		}
	}
}

// Authenticator implements membership.Participant, keeping what it hands
// out, as securePart does.
func (p *participant) Authenticator(v membership.View, rank int) membership.Authenticator {
	a := p.Participant.Authenticator(v, rank)
	if len(p.auths) == keepAuths {
		p.auths = append(p.auths[:0], p.auths[1:]...)
	}
	p.auths = append(p.auths, viewAuth{view: v.Clone(), rank: rank, a: a})
	return a
}
