package membership

import (
	"github.com/conclave-go/conclave/layers"
)

// EventType says what an Event reports.
type EventType uint8

const (
	// EventDeliver is a delivered message.
	EventDeliver EventType = iota + 1
	// EventBlock says a view change has begun: messages sent from now on
	// go out in the next view.
	EventBlock
	// EventView is a newly installed view.
	EventView
	// EventLeft says this member has left the group; nothing follows.
	EventLeft
)

func (t EventType) String() string {
	switch t {
	case EventDeliver:
		return "deliver"
	case EventBlock:
		return "block"
	case EventView:
		return "view"
	case EventLeft:
		return "left"
	}
	return "unknown"
}

// Event is an output of a Member for its application.
type Event struct {
	Type EventType

	// EventDeliver: the sender, whether it was a multicast, the message.
	From Endpoint
	Cast bool
	Data []byte

	// EventView: the view, and how it differs from the previous one.
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
