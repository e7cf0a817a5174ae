package membership

import (
	"slices"
	"strings"

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
	// KeyChange follows a ViewChange whose view has a key epoch (its
	// Participant is a Describer that described it): the epoch, and why
	// the key changed.
	KeyChange
)

// Reasons of a KeyChange. A view change that changed the members gives
// the applicable of ReasonJoin, ReasonLeave, ReasonFailure and
// ReasonMerge, in that order, joined by "+" ("join+failure"); one that
// changed nothing but the view is ReasonRekey; a view this member made
// alone is ReasonFirst.
const (
	// ReasonRekey: the same members, a new key.
	ReasonRekey = "rekey"
	// ReasonJoin: members new to this member joined its view, or this
	// member joined a view on its own.
	ReasonJoin = "join"
	// ReasonLeave: members left of their own accord.
	ReasonLeave = "leave"
	// ReasonFailure: members failed, or were cut off.
	ReasonFailure = "failure"
	// ReasonMerge: this member's view was absorbed by another with other
	// members of it (a view of one joining is ReasonJoin).
	ReasonMerge = "merge"
	// ReasonFirst: a view of this member alone, the first key of a group
	// of its own (when it starts, and when it goes on alone).
	ReasonFirst = "first"
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
	case KeyChange:
		return "key"
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
	// ViewChange: the members' identities by rank, as the Participant
	// established them (nil without a Describer). ViewChange and
	// KeyChange: the view's key epoch (0 without one).
	Identities []Identity
	Epoch      uint64

	// KeyChange: why the key changed (ReasonRekey, ReasonFirst, or
	// ReasonJoin, ReasonLeave, ReasonFailure, ReasonMerge joined by "+").
	Reason string
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

// describe completes the ViewChange event just added for the view this
// member installed (old was its view before; alone: it made the view
// alone; joiner: it entered as a joiner) with the identities and the key
// epoch its Participant reports, and follows it with a KeyChange.
func (m *Member) describe(old View, alone, joiner bool) {
	d, ok := m.cfg.Participant.(Describer)
	if !ok {
		return
	}
	ids, epoch, ok := d.Describe(m.view.Clone())
	if !ok {
		return
	}
	ev := &m.ready.Events[len(m.ready.Events)-1]
	if len(ids) == len(m.view.Members) {
		ev.Identities = slices.Clone(ids)
	} else {
		m.count("describe_mismatch")
		m.cfg.Logger.Warn("participant described a view with the wrong number of identities",
			"self", m.self, "view", m.view.ID, "identities", len(ids), "members", len(m.view.Members))
	}
	ev.Epoch = epoch
	reason := keyReason(old, *ev, m.self, alone, joiner)
	m.ready.Events = append(m.ready.Events, Event{Kind: KeyChange, Epoch: epoch, Reason: reason})
}

// keyReason says why the key changed with the view change ev reports, at
// member self, whose view was old.
func keyReason(old View, ev Event, self Endpoint, alone, joiner bool) string {
	if alone {
		return ReasonFirst
	}
	if len(ev.Joined) == 0 && len(ev.Left) == 0 && len(ev.Failed) == 0 {
		return ReasonRekey
	}
	// A joiner that brings other members of its view along was absorbed
	// with its view: a merge, not a join.
	merged := joiner && slices.ContainsFunc(old.Members, func(e Endpoint) bool { return e != self && ev.View.Has(e) })
	var rs []string
	if len(ev.Joined) > 0 && !merged {
		rs = append(rs, ReasonJoin)
	}
	if len(ev.Left) > 0 {
		rs = append(rs, ReasonLeave)
	}
	if len(ev.Failed) > 0 {
		rs = append(rs, ReasonFailure)
	}
	if merged {
		rs = append(rs, ReasonMerge)
	}
	return strings.Join(rs, "+")
}
