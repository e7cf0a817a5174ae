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
	// KeyChange follows each ViewChange of a secured group: the group
	// key changed with the view. Every member of the view has the same
	// epoch, and nobody outside it.
	KeyChange = membership.KeyChange
)

// Reasons of a KeyChange event: why the key changed. A view change that
// changed the members gives the applicable of ReasonJoin, ReasonLeave,
// ReasonFailure and ReasonMerge, in that order, joined by "+"
// ("join+failure").
const (
	// ReasonRekey: the same members, a new key (Group.Rekey,
	// Config.RekeyInterval).
	ReasonRekey = membership.ReasonRekey
	// ReasonJoin: members joined, or this member joined a group.
	ReasonJoin = membership.ReasonJoin
	// ReasonLeave: members left of their own accord.
	ReasonLeave = membership.ReasonLeave
	// ReasonFailure: members failed or were cut off.
	ReasonFailure = membership.ReasonFailure
	// ReasonMerge: this member's view merged with another.
	ReasonMerge = membership.ReasonMerge
	// ReasonFirst: a view of this member alone, the first key of a group
	// of its own (when it starts, and when it goes on alone).
	ReasonFirst = membership.ReasonFirst
)

// Identity is a member's identity as its admission established it: the
// credential's provider and its name within it ("noise" and a public key
// in base64).
type Identity = membership.Identity

// Event is something that happened in the group, delivered in order.
//
// Message: the sender (From), whether it was a multicast (Multicast) or a
// message to this member alone, and the data, which belongs to the
// receiver. ViewChange: the view, and who joined it and who left or
// failed since the previous one (Joined, Left, Failed); in a secured
// group, the members' identities by rank (Identities) and the view's key
// epoch (Epoch). KeyChange: the epoch (Epoch) and why the key changed
// (Reason, one of the Reason constants or several joined by "+").
type Event = membership.Event
