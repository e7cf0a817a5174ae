package layers

import "fmt"

// Type is the kind of an event.
type Type uint8

// Event types. Data types travel both ways; control types as stated.
const (
	// ECast is reliable multicast data: from the application going down,
	// delivered to the application going up (including the sender's own).
	ECast Type = iota + 1
	// ESend is reliable point-to-point data to (down) or from (up) Peer.
	ESend
	// ECastUnrel is an unreliable multicast a layer uses for its own control
	// traffic (stability gossip, for example).
	ECastUnrel
	// ESendUnrel is an unreliable point-to-point control message
	// (negative acknowledgements, retransmissions, acknowledgements).
	ESendUnrel
	// EFlush goes down when the driver has no more input for now: layers
	// that hold messages back (bundling) must send what they hold.
	EFlush
	// EStable carries stability information, up and down, from the
	// stability layer.
	EStable
	// EBundle is a datagram that carries several messages, made and
	// unpacked by the bundling layer. Peer is as for its messages.
	EBundle
	// EViewEnd goes down when the view ends, after the view change has
	// brought every member to the same cut: layers that hold deliveries
	// back (total order) must deliver what they hold, in an order every
	// member computes alike.
	EViewEnd
	// ERefuseCast goes down from a layer that checks what the reliable
	// multicast layer below it delivers (sign) and refused a multicast of
	// origin Peer: that layer forgets Peer's multicasts from sequence
	// number Seq on (in its own numbering, which the refusing layer
	// follows, since it receives each of them once, in order), the
	// refused copy and any it holds after it, and asks for them again as
	// for a gap. A copy an insider altered, delivered before the real
	// one, so gives way to the real one instead of keeping its place.
	ERefuseCast
	// ERefuseSend is ERefuseCast for the point-to-point messages from
	// Peer, in the reliable point-to-point layer's numbering (pt2pt),
	// refused by the layer that opens them (private).
	ERefuseSend
)

var typeNames = [...]string{
	ECast:       "Cast",
	ESend:       "Send",
	ECastUnrel:  "CastUnrel",
	ESendUnrel:  "SendUnrel",
	EFlush:      "Flush",
	EStable:     "Stable",
	EBundle:     "Bundle",
	EViewEnd:    "ViewEnd",
	ERefuseCast: "RefuseCast",
	ERefuseSend: "RefuseSend",
}

func (t Type) String() string {
	if int(t) < len(typeNames) && typeNames[t] != "" {
		return typeNames[t]
	}
	return fmt.Sprintf("Type(%d)", t)
}

// IsData reports whether events of this type carry a message on the wire.
func (t Type) IsData() bool { return t >= ECast && t <= ESendUnrel || t == EBundle }

// IsCast reports whether the type is a multicast.
func (t Type) IsCast() bool { return t == ECast || t == ECastUnrel }

// AllPeers is the Peer of an event or packet addressed to every other member.
const AllPeers = -1

// Event is what layers pass to each other.
//
// Peer is the member rank the message came from (up) or goes to (down, for
// ESend and ESendUnrel; AllPeers for casts). Stability is set only on EStable
// events; it belongs to the stability layer and is valid only during the call.
// Seq is set only on ERefuseCast and ERefuseSend: the first sequence number
// refused.
type Event struct {
	Type      Type
	Peer      int
	Msg       Message
	Stability *Stability
	Seq       uint64
}

// Stability summarises which multicasts every member has.
//
// Stable[s] is the number of messages from member s that every member has
// delivered: they can be dropped from retransmission buffers. MaxSeen[s] is
// the largest number of messages from s that any member reports: a member
// that has fewer knows it has lost some, even the last ones.
type Stability struct {
	Stable  []uint64
	MaxSeen []uint64
}
