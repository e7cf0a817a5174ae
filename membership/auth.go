package membership

import (
	"encoding/binary"

	"github.com/conclave-go/conclave/internal/wire"
)

// With a participant, every control message between members of a view is
// sealed by the view's Authenticator (Participant.Authenticator) and
// carries a sequence number for replay protection:
//
//	magic    byte     0xC1
//	group    uint64   big endian
//	type     byte     Sealed
//	from     endpoint
//	view     uint64   the view's wire id (ViewID.Wire)
//	rank     uvarint  the sender's rank in that view
//	seq      uvarint  1, 2, … per sender and view
//	inner    uvarint length, then the control message itself (as above)
//	tag      uvarint length (at most MaxTag), then the tag
//
// The tag covers every byte before it. A receiver opens a sealed message
// with the authenticator of its current view, or of the view before (so
// that Install and InstallAck cross the boundary between the two), or of
// the view of the round it takes part in once it has processed that
// round's decision (below), after
// checking that the rank names the sender's endpoint and that the sequence
// number is new (a window of 64 per sender, as RFC 6479); only then does
// it act on the inner message, or credit the sender with a sign of life.
// An unsealed message from a member's address is handled as a stranger's
// (counted as unauthenticated.<type>), and one in the name of a member of
// the view is dropped (drop.unauthenticated_member.<type>) unless it is a
// Probe, ProbeReply or MergeReq, which carry their own proofs and vouch
// for nothing without the echo of a cookie (merge.go), or comes from the
// coordinator this member's view is being absorbed by.
// Messages between views (probes, merge requests, those to and from
// joiners) are not sealed, but for the end of a round: once a member has
// processed the decision of the next view, it and the coordinator seal
// the round's Confirm, Refuse, Install, InstallAck and Dismiss under
// that view where they share no current view (roundSealing in
// member.go), and a joiner acts on an Install or Dismiss, a coordinator
// on a joiner's Confirm or Refuse, only when so sealed or sealed pairwise
// (sealedForRound in participant.go; drop.unsealed_round.<type>
// otherwise): the members of a view absorbed in a merge, other than its
// coordinator, share no other key with the absorbing coordinator. Drops
// are counted by reason: drop.unsealed_view
// (a view this member is not in, or no longer), drop.replay,
// drop.forged_control (the tag does not open, or the rank does not name
// the sender).

// Every sealed message is sealed and opened in the class of the message it
// carries (classOf), read from the inner message's type byte, which the tag
// covers; a message whose tag was made in another class does not open.
// Only Wait is Routine: it says no more than "alive, still flushing or
// syncing", which keeps a member from being taken for silent in a view
// change, a power an insider already has by sending heartbeats in its
// name. Everything else can make something happen that only the member it
// names could ask for. What one member only ever sends to one other
// member, and nobody else reads or relays, is Pairwise: it must be bound
// to its sender only for its recipient, which a key the two share does
// (a MAC, membership/secure; a fiftieth of a signature's verification,
// which the coordinator would otherwise do for each reply of each member,
// one after the other). The rest is Change, bound to its sender for
// every member:
//
//	Pairwise, the replies of a round to its coordinator (DecideReq, from
//	the coordinator to the decider):
//	FlushOK, SyncOK, InstallAck  consent to a view, reach the cut, confirm
//	                             the install (an ack stops the resends)
//	Confirm, Refuse              confirm or refuse the decision of a view
//	DecideReq, Decision          ask for and give the decision (the
//	                             coordinator forwards the decision's parts
//	                             inside its own Prepare, which is Change)
//
//	Change, to several members, to peers outside the view, or what starts
//	a view change (rare, and off the round's path: a signature costs
//	nothing there):
//	Suspect, Leave, Rekey        remove a member (another, or itself), start
//	                             a rekey round
//	Flush, Sync, Install,        run a view change: propose, cut, install
//	Dismiss, Prepare             (Prepare carries the decision)
//	Fragment                     a piece of any large message (each
//	                             piece is Change, whatever it carries)
//	Probe, ProbeReply            a member's probe naming another view makes
//	                             it suspected (it moved on)
//	MergeReq, Challenge,         merges and admissions (sent unsealed, or
//	Handshake, Refused           sealed pairwise)
//
// A Pairwise message is sealed for the rank of its recipient in the view
// of the sealing it goes out under (PairSealer), and goes to that member
// alone, never through a fanout. The end of a round sealed under the next
// view (roundSealing) and messages sealed under an admission's handshake
// are Pairwise as any other: their authenticators seal them as they can.
//
// A type membership does not know has no class: such a message is dropped
// unopened.

// ClassOf is the class a control message whose type byte is t is sealed
// in, for tools that seal control messages themselves (the simulator's
// attackers); ok is false for a type membership does not know.
func ClassOf(t byte) (c Class, ok bool) { return classOf(msgType(t)) }

// classOf is the class a control message of type t is sealed in.
func classOf(t msgType) (Class, bool) {
	switch t {
	case mWait:
		return Routine, true
	case mFlushOK, mSyncOK, mInstallAck, mConfirm, mRefuse, mDecideReq, mDecision:
		return Pairwise, true
	case mProbe, mProbeReply, mMergeReq, mFlush, mSync, mInstall, mDismiss, mPrepare,
		mSuspect, mLeave, mRekey, mFragment, mChallenge, mHandshake, mRefused:
		return Change, true
	}
	return 0, false
}

// innerClass is the class of an encoded control message, from its type
// byte (after the magic and the group).
func innerClass(inner []byte) (Class, bool) {
	if len(inner) < 10 {
		return 0, false
	}
	return classOf(msgType(inner[9]))
}

// replayWindow is the anti-replay state of one sender in one view.
type replayWindow struct {
	max  uint64 // highest sequence number accepted
	bits uint64 // bit i: max−i was accepted
}

// accept reports whether seq is new, and records it.
func (w *replayWindow) accept(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > w.max:
		if d := seq - w.max; d >= 64 {
			w.bits = 1
		} else {
			w.bits = w.bits<<d | 1
		}
		w.max = seq
		return true
	case w.max-seq >= 64:
		return false
	}
	bit := uint64(1) << (w.max - seq)
	if w.bits&bit != 0 {
		return false
	}
	w.bits |= bit
	return true
}

// sealing is one view's control message authentication state.
type sealing struct {
	view    View
	wireID  uint64
	auth    Authenticator
	rank    int
	seq     uint64
	windows []replayWindow
}

func newSealing(v View, rank int, auth Authenticator) *sealing {
	return &sealing{view: v.Clone(), wireID: v.ID.Wire(), auth: auth, rank: rank, windows: make([]replayWindow, len(v.Members))}
}

// seal wraps an encoded control message to the member of rank to in the
// sealing's view (-1: to several, or to none in particular), in its class.
func (s *sealing) seal(group uint64, self Endpoint, inner []byte, to int) []byte {
	c, ok := innerClass(inner)
	if !ok {
		// Never: only messages of known types are encoded. The stricter
		// class; the receiver drops it anyway.
		c = Change
	}
	return s.sealIn(group, self, inner, c, to)
}

// sealIn wraps an encoded control message to the member of rank to in
// class c.
func (s *sealing) sealIn(group uint64, self Endpoint, inner []byte, c Class, to int) []byte {
	s.seq++
	b := make([]byte, 0, len(inner)+64+MaxTag)
	b = append(b, Magic)
	b = wire.AppendUint64(b, group)
	b = append(b, byte(mSealed))
	b = appendEndpoint(b, self)
	b = binary.BigEndian.AppendUint64(b, s.wireID)
	b = wire.AppendUvarint(b, uint64(s.rank))
	b = wire.AppendUvarint(b, s.seq)
	b = wire.AppendUvarint(b, uint64(len(inner)))
	b = append(b, inner...)
	var tag []byte
	if ps, ok := s.auth.(PairSealer); ok && c == Pairwise && to >= 0 && to < len(s.view.Members) && to != s.rank {
		tag = ps.SealTo(nil, b, to)
	} else {
		tag = s.auth.Seal(nil, b, c)
	}
	b = wire.AppendUvarint(b, uint64(len(tag)))
	return append(b, tag...)
}

// sealed is a parsed sealed message, not yet opened.
type sealed struct {
	view   uint64
	rank   uint64
	seq    uint64
	inner  []byte
	signed []byte // the bytes the tag covers
	tag    []byte
}

// parseSealed reads the fields of a sealed message after its from
// endpoint; r is positioned there, b is the whole datagram.
func parseSealed(r *wire.Reader, b []byte) (sealed, error) {
	var s sealed
	s.view = r.Uint64()
	s.rank = r.UvarintMax(MaxMembers - 1)
	s.seq = r.Uvarint()
	s.inner = r.Bytes(int(r.UvarintMax(maxCtlMessage)))
	if r.Err() != nil {
		return sealed{}, r.Err()
	}
	s.signed = b[:len(b)-r.Len()]
	s.tag = r.Bytes(int(r.UvarintMax(MaxTag)))
	if err := r.Done(); err != nil {
		return sealed{}, err
	}
	return s, nil
}

// open checks a sealed message from endpoint from against this sealing,
// and returns the inner message.
func (s *sealing) open(from Endpoint, sm *sealed) (ok bool, reason string) {
	if sm.rank >= uint64(len(s.view.Members)) || s.view.Members[sm.rank] != from {
		return false, "drop.forged_control"
	}
	c, ok := innerClass(sm.inner)
	if !ok {
		return false, "drop.forged_control"
	}
	if s.auth.Open(int(sm.rank), sm.signed, sm.tag, c) != nil {
		return false, "drop.forged_control"
	}
	if !s.windows[sm.rank].accept(sm.seq) {
		return false, "drop.replay"
	}
	return true, ""
}

// ControlType names the type of the control message a datagram of group
// carries ("Flush", "Prepare"…), looking inside a sealed envelope, whose
// message travels in clear and is only authenticated: for traces and
// tests. ok is false for a datagram that is not a control datagram of
// group. It checks no tag and parses no more than the headers.
func ControlType(data []byte, group uint64) (name string, ok bool) {
	r := wire.NewReader(data)
	if r.Byte() != Magic || r.Uint64() != group {
		return "", false
	}
	t := msgType(r.Byte())
	if t == mSealed {
		readEndpoint(&r)
		r.Uint64()
		r.UvarintMax(MaxMembers - 1)
		r.Uvarint()
		inner := r.Bytes(int(r.UvarintMax(maxCtlMessage)))
		if r.Err() != nil {
			return "", false
		}
		return ControlType(inner, group)
	}
	if r.Err() != nil || t.String() == "Unknown" {
		return "", false
	}
	return t.String(), true
}
