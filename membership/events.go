package membership

import (
	"github.com/conclave-go/conclave/layers"
)

// EventKind says what an Event reports. The root package exports these
// kinds and Event under the same names: one event type from the member to
// the application.
type EventKind uint8

const (
	// Message is a delivered message.
	Message EventKind = iota + 1
	// Block says a view change has begun. Messages sent from now on go
	// out in the next view; an application may pause sending.
	Block
	// ViewChange is a newly installed view. Every member that moves from
	// the previous view to this one delivered the same messages in the
	// previous view (virtual synchrony).
	ViewChange
	// Left says this member has left the group. Nothing follows.
	Left
)

func (k EventKind) String() string {
	switch k {
	case Message:
		return "message"
	case Block:
		return "block"
	case ViewChange:
		return "view"
	case Left:
		return "left"
	}
	return "unknown"
}

// Event is something that happened in the group, delivered in order.
type Event struct {
	Kind EventKind

	// Message: the sender, whether it was a multicast (or a message to
	// this member alone), and the data.
	From      Endpoint
	Multicast bool
	Data      []byte

	// ViewChange: the view, and who joined it and who left or failed
	// since the previous one.
	View                 View
	Joined, Left, Failed []Endpoint
}

// Packet is a datagram for the transport: Addr is where it goes, To the
// rank of that address in the member's current view, or layers.Unranked.
type Packet = layers.Packet

// Ready is what a Member produced since the last Advance.
type Ready struct {
	Packets []Packet
	Events  []Event
}

// Trace is a protocol step reported to Config.Trace, for checkers: the
// simulator uses it to verify that nobody appears in a view it did not agree
// to.
type Trace struct {
	// Consent: this member agreed to be in View (it replied to a flush
	// proposing View, or went on alone in View).
	Consent bool
	View    View
}
