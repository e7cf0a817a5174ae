package secure

import (
	"errors"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
)

// epochState is an epoch of the group as this member holds it, with the
// view it belongs to and each member's leaf.
type epochState struct {
	view   membership.View
	group  *keying.Group
	leaves []uint32 // by rank in view
}

// pending is a processed decision, not yet installed.
type pending struct{ st *epochState }

// decided is this member's own commit of a round.
type decided struct{}

// joinKey is the key package a joiner contributed, with its secrets.
type joinKey struct{}

// rosterStore keeps the rosters of the joiners a coordinator admitted.
type rosterStore struct{}

var errTodo = errors.New("secure: not implemented")

// Start implements membership.Participant.
func (p *Participant) Start(self membership.Endpoint) {}

// Handshake implements membership.Participant.
func (p *Participant) Handshake(initiator bool, self, peer membership.Endpoint, nonce []byte) (membership.Handshake, error) {
	return nil, errTodo
}

// Admit implements membership.Participant.
func (p *Participant) Admit(peer membership.Endpoint, id membership.Identity) error { return errTodo }

// Contribute implements membership.Participant.
func (p *Participant) Contribute(next membership.View) []byte { return nil }

// Decider implements membership.Participant.
func (p *Participant) Decider(cur, next membership.View) membership.Endpoint {
	return membership.Endpoint{}
}

// Decide implements membership.Participant.
func (p *Participant) Decide(cur, next membership.View, contributions map[membership.Endpoint][]byte, joiners map[membership.Endpoint]membership.Identity) (membership.Decision, error) {
	return membership.Decision{}, errTodo
}

// Process implements membership.Participant.
func (p *Participant) Process(next membership.View, common, own []byte) ([]byte, error) {
	return nil, errTodo
}

// Verify implements membership.Participant.
func (p *Participant) Verify(next membership.View, common []byte, member membership.Endpoint, confirmation []byte) error {
	return errTodo
}

// Discard implements membership.Participant.
func (p *Participant) Discard(next membership.View) {}

// Install implements membership.Participant.
func (p *Participant) Install(next membership.View) (layers.Keys, error) { return nil, errTodo }

// Authenticator implements membership.Participant.
func (p *Participant) Authenticator(v membership.View, rank int) membership.Authenticator {
	return nil
}

// RekeyDue implements membership.Rekeyer.
func (p *Participant) RekeyDue(v membership.View, s membership.ViewStats) bool { return false }

// Describe implements membership.Describer.
func (p *Participant) Describe(v membership.View) ([]membership.Identity, uint64, bool) {
	return nil, 0, false
}
