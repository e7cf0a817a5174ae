package sim

import (
	"fmt"
	"log/slog"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/secure"
)

// With Config.Secure every process has membership/secure's participant: a
// Noise static key drawn from the seed (noise.GenerateKey over a seeded
// reader), the group's allow list as its admission check, and a seeded
// reader for every key and nonce, so that a run stays a pure function of
// its Config. The allow list names exactly the keys of the run's
// processes: each process's key joins it when the process starts, before
// anyone can hear from it, as an operator adds a member's key before
// starting it. Outsiders' keys (attackers.go) never join it.

// groupName is the secure group's name, bound into every epoch.
const groupName = "conclave simulator"

// party is a simulated process's participant, as the run drives it: the
// test participant or the secure one, with the records the Checker reads.
type party interface {
	membership.Participant
	Decisions
}

// securePart is the secure participant of one simulated process. It
// keeps what an attacker that holds the process's keys would have (the
// authenticators it was given, by view) and hands the run each decision
// the process receives, which travels in clear and which the ex-members
// (attackers.go) try to process.
type securePart struct {
	*secure.Participant
	r     *run
	p     int
	auths []viewAuth // the last keepAuths views' authenticators
	// installed is the view installed last, whose epoch the stack built
	// next seals under.
	installed *membership.ViewID
}

// Install implements membership.Participant, noting the view.
func (s *securePart) Install(next membership.View) (layers.Keys, error) {
	id := next.ID
	s.installed = &id
	return s.Participant.Install(next)
}

// viewAuth is the authenticator a participant gave its member for one
// view.
type viewAuth struct {
	view membership.View
	rank int
	a    membership.Authenticator
}

// keepAuths is how many views' authenticators a securePart keeps.
const keepAuths = 4

// credential is the Noise key of process p (or of an outsider: another
// stream), drawn from the seed.
func (r *run) credential(stream, i uint64) (*noise.Credential, auth.Identity, error) {
	key, err := noise.GenerateKey(seeded(mix(r.cfg.Seed, stream, i)))
	if err != nil {
		return nil, auth.Identity{}, err
	}
	c := noise.NewCredential(key)
	return c, c.Identity(), nil
}

// admit is the group's admission check: the allow list of the run's
// processes' keys.
func (r *run) admit(id auth.Identity) error {
	if id.Provider == noise.Provider && r.allowed[id.Name] || r.cfg.admitAll {
		return nil
	}
	return errNotAllowed{id}
}

type errNotAllowed struct{ id auth.Identity }

func (e errNotAllowed) Error() string { return "sim: " + e.id.String() + " is not on the allow list" }

// newSecure makes process p's secure participant and puts its key on the
// allow list.
func (r *run) newSecure(p int) (*securePart, error) {
	cred, id, err := r.credential(streamCredentials, uint64(p))
	if err != nil {
		return nil, err
	}
	r.allowed[id.Name] = true
	sp, err := secure.New(r.secureConfig(cred, streamParticipant, uint64(p), fmt.Sprintf("m%d", p)))
	if err != nil {
		return nil, err
	}
	return &securePart{Participant: sp, r: r, p: p}, nil
}

func (r *run) secureConfig(cred auth.Credential, stream, i uint64, name string) secure.Config {
	cfg := secure.Config{
		Credential: cred,
		Admit:      r.admit,
		Group:      groupName,
		Rand:       seeded(mix(r.cfg.Seed, stream, i)),
	}
	if r.log != nil {
		cfg.Logger = slog.New(&protocolLog{r: r, name: name})
	}
	return cfg
}

// RekeyDue implements membership.Rekeyer: during the active phase only, a
// rekey round once a view has lasted RekeyInterval, so that the group can
// settle before and after it.
func (s *securePart) RekeyDue(v membership.View, st membership.ViewStats) bool {
	return s.r.rekeyEvery > 0 && st.Age >= RekeyInterval
}

// Authenticator implements membership.Participant, keeping what it hands
// out.
func (s *securePart) Authenticator(v membership.View, rank int) membership.Authenticator {
	a := s.Participant.Authenticator(v, rank)
	if len(s.auths) == keepAuths {
		s.auths = append(s.auths[:0], s.auths[1:]...)
	}
	s.auths = append(s.auths, viewAuth{view: v.Clone(), rank: rank, a: a})
	return a
}

// Process implements membership.Participant, showing the decision to the
// run's ex-members first: it travelled in clear.
func (s *securePart) Process(next membership.View, common, own []byte) ([]byte, error) {
	if s.r.adv != nil {
		s.r.observeCommit(s.p, next, common, own)
	}
	return s.Participant.Process(next, common, own)
}
