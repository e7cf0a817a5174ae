package tests

import (
	"fmt"
	"net/netip"
	"strings"
	"sync"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// benchPSK is the test participants' pre-shared key in the benchmarks.
var benchPSK = []byte("conclave views benchmark")

// benchParticipant is membershiptest's participant for a member that Join
// starts, noting the epochs it installs where the benchmark can read them
// (Join chooses the member's incarnation; the participant learns its
// endpoint from Start).
type benchParticipant struct {
	*membershiptest.Participant

	mu     sync.Mutex // the epochs, read by the benchmark
	epochs map[membership.ViewID]uint64
}

func newBenchParticipant(addr netip.AddrPort) *benchParticipant {
	return &benchParticipant{
		Participant: &membershiptest.Participant{PSK: benchPSK, Name: addr.String()},
		epochs:      make(map[membership.ViewID]uint64),
	}
}

// Install implements membership.Participant, noting the installed epoch
// where the benchmark can read it while the member runs.
func (p *benchParticipant) Install(next membership.View) (k layers.Keys, err error) {
	k, err = p.Participant.Install(next)
	if err == nil {
		e, _ := p.Participant.Epoch(next.ID)
		p.mu.Lock()
		p.epochs[next.ID] = e
		p.mu.Unlock()
	}
	return k, err
}

// epoch is the fingerprint of the decision installed with view id.
func (p *benchParticipant) epoch(id membership.ViewID) (uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.epochs[id]
	return e, ok
}

// with names the participant in titles.
func (c *cluster) with() string {
	if c.participant {
		return " with a participant"
	}
	return ""
}

// sameKey checks, with a participant, that every member installed its
// current view with a decision, the same at all of them.
func (c *cluster) sameKey() error {
	if !c.participant {
		return nil
	}
	id := c.members[0].g.View().ID
	var epochs []string
	first, same := uint64(0), true
	for i, m := range c.members {
		e, ok := m.part.epoch(id)
		if !ok {
			return fmt.Errorf("member %v installed %v without a decision", m.g.Self(), id)
		}
		if i == 0 {
			first = e
		}
		same = same && e == first
		epochs = append(epochs, fmt.Sprintf("%x", e))
	}
	if !same {
		return fmt.Errorf("the members installed %v with different decisions: %s", id, strings.Join(epochs, " "))
	}
	return nil
}
