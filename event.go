package conclave

import "github.com/conclave-go/conclave/membership"

// Endpoint identifies a member: its address and the incarnation of its
// process.
type Endpoint = membership.Endpoint

// View is an agreed membership: an id and the members in order; the first
// is the coordinator.
type View = membership.View

// ViewID names a view: the logical time and the coordinator that made it.
type ViewID = membership.ViewID

// EventKind says what an Event reports.
type EventKind = membership.EventKind

const (
	// Message is a delivered message.
	Message = membership.Message
	// Block says a view change has begun. Messages sent from now on go
	// out in the next view; an application may pause sending.
	Block = membership.Block
	// ViewChange is a newly installed view. Every member that moves from
	// the previous view to this one delivered the same messages in the
	// previous view (virtual synchrony).
	ViewChange = membership.ViewChange
	// Left says this member has left the group. Nothing follows.
	Left = membership.Left
)

// Event is something that happened in the group, delivered in order.
//
// Message: the sender (From), whether it was a multicast (Multicast) or a
// message to this member alone, and the data, which belongs to the
// receiver. ViewChange: the view, and who joined it and who left or
// failed since the previous one (Joined, Left, Failed).
type Event = membership.Event
