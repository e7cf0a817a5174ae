package membership

import "errors"

// ErrHold is returned by Participant.Decide to hold the installation of the
// next view: the coordinator asks again on its next tick.
var ErrHold = errors.New("membership: hold the view change")

// Participant is implemented by a layer above membership that takes part in
// every view change: the security layers admit joiners and agree on the next
// view's group key this way. Its methods are called from the member's
// driving goroutine, never concurrently, and must not block.
type Participant interface {
	// Admit runs at the coordinator when a process asks to enter the
	// group, with the hello bytes that process configured. A non-nil
	// error keeps it out of this view change and later ones.
	Admit(joiner Endpoint, hello []byte) error

	// Contribute runs at every member taking part in a view change (the
	// flushed members and the joiners) when it agrees to next; the bytes
	// reach the coordinator with the member's reply.
	Contribute(next View) []byte

	// Decide runs at the coordinator once every member has flushed and
	// contributed. Its result reaches every member of next with the order
	// to install it. ErrHold postpones the installation (Decide runs again
	// on the next tick); any other error aborts the view change, which is
	// retried without its joiners.
	Decide(next View, contributions map[Endpoint][]byte) ([]byte, error)

	// Install runs at every member of next, before next's stack starts,
	// with what Decide returned.
	Install(next View, decided []byte)
}
