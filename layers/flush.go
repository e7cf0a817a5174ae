package layers

import "fmt"

// Flush is what a view change needs from a stack: the view's multicast
// counts, a cut to bring every survivor to, the exclusion of members that
// are leaving, whether point-to-point traffic is drained, a block on
// ordering, and the view and sender a datagram names. Stack.ViewFlush
// returns it; the membership protocol drives it and imports no layer.
//
// A view change runs, at each surviving member:
//
//  1. Exclude(r, true) for every member r the change removes (and
//     Exclude(r, false) for one an earlier, abandoned round removed and
//     this one keeps): their acknowledgements no longer hold back
//     stability, so the member's flow control can drain.
//  2. Once the member's own traffic is drained (Stack.Backlog is zero and
//     Unacknowledged is false for every survivor): Block, then read Sent
//     and Delivered(r) for every other member r — the member's delivery
//     vector — and Cut every leaving member at what it delivered
//     (Cut(r, Delivered(r), r)), every survivor with NoCut.
//  3. When the coordinator has chosen the cut (per surviving origin, the
//     Sent it reported, held by itself; per other origin, the largest
//     count any survivor delivered, and a survivor that holds them): Cut
//     every origin there, and wait for ReachedCuts.
//  4. EndView, then the next view's stack.
//
// Each capability comes from the one layer of the stack that provides it
// (see Cutter, Excluder, Acknowledger, Blocker and Framer); a stack
// without such a layer answers as if it had nothing to flush: counts are
// zero, cuts are reached, nothing is unacknowledged, and Block and Exclude
// do nothing. HasCutter reports whether a view change can give virtual
// synchrony for multicasts at all.
type Flush interface {
	// Sent is the number of multicasts this member sent in the view.
	Sent() uint64
	// Delivered is the number of multicasts from member origin this
	// member delivered (for origin = own rank, its own multicasts): with
	// sender authentication, delivered to the application, not counting
	// those the sign layer still holds for their signature (Settler).
	Delivered(origin int) uint64
	// Cut stops the delivery of origin's multicasts at upTo, learns that
	// that many exist, and asks holder for those missing; NoCut lifts a
	// cut. A cut below Delivered(origin) keeps Delivered(origin): a
	// member that an insider sent a forgery of a surviving origin's next
	// multicast delivered one more than the origin sent, and the sender
	// authentication layer holds that one back from the application.
	Cut(origin int, upTo uint64, holder int)
	// ReachedCuts reports whether every origin's delivery has reached
	// its cut. With sender authentication it first has the sign layer
	// refuse what it holds below each cut (see Settler): a copy there
	// would otherwise be dropped at the view's end at this member alone. That refusal asks for the real
	// messages again, so the call has outputs, which the driver takes
	// from Stack.Ready as for any call.
	ReachedCuts() bool
	// Exclude leaves member out of stability (exclude true: it is
	// leaving the view) or takes it back in (false).
	Exclude(member int, exclude bool)
	// Unacknowledged reports whether some point-to-point message to peer,
	// sent or queued, awaits its acknowledgement.
	Unacknowledged(peer int) bool
	// Block stops total ordering for the rest of the view; what is not
	// ordered yet is delivered at EndView in an order every member
	// computes alike. Block comes before the counts are read, so that
	// they are final. Block has outputs like any other call (sign sends
	// its last batch, and the sender delivers its own multicasts in it):
	// the driver takes them from Stack.Ready before the next Advance, or
	// the sender never delivers what the other members do in the view.
	Block()
	// Datagram reads the view id and the sender's rank a datagram names
	// in its header, without checking them against this stack's view:
	// a driver uses it to recognise traffic of the next view, and to
	// compare the named sender with the address the datagram came from.
	Datagram(data []byte) (view uint64, sender int, ok bool)
	// HasCutter reports whether some layer provides the multicast counts
	// and cuts (a reliable multicast layer).
	HasCutter() bool
}

// Cutter is the capability of a reliable multicast layer (mnak): the
// view's counts of multicasts and the cut of a view change. See Flush for
// the meaning of each method.
type Cutter interface {
	Sent() uint64
	Delivered(origin int) uint64
	Cut(origin int, upTo uint64, holder int)
	ReachedCuts() bool
}

// NoCut lifts a cut: the origin is delivered as far as its messages go.
const NoCut = ^uint64(0)

// Settler is the capability of a layer above the reliable multicast layer
// that holds what it delivers until it proves itself (sign, until a
// batch's signature verifies). Held is how many of origin's multicasts it
// holds: the flush's counts leave them out, so that a view change cuts
// each origin at what some member delivered to its application. Every cut
// is such a count: an origin that survives is cut at its own count, once
// the view change had it sign and send every batch; an origin that
// leaves, at the most any survivor delivered, the holder having it all,
// verified. What this member still holds below a cut waits for a proof
// that another member had with the real messages: a copy that is not the
// real one (an insider's), or the real one whose proof did not come here.
// Settle is told of each cut when the cuts are otherwise reached, and
// refuses what it holds below count (ERefuseCast), so that the reliable
// multicast layer fetches the real messages, with their proof, before the
// cuts count as reached. (Without it, the member would drop what it holds
// at the view's end, and deliver less than the holder did.)
type Settler interface {
	Held(origin int) uint64
	Settle(origin int, count uint64)
}

// Excluder is the capability of a stability layer (stable) to leave a
// member out of stability, and take it back in.
type Excluder interface {
	Ignore(member int, ignore bool)
}

// Acknowledger is the capability of a reliable point-to-point layer
// (pt2pt) to tell whether messages to a peer await acknowledgement.
type Acknowledger interface {
	Unacknowledged(peer int) bool
}

// Blocker is the capability of a layer to finish its part of the view when
// the view change blocks the stack: an ordering layer (total) stops
// ordering, the sender authentication layer (sign) signs and sends its open
// batch. Every layer that has it is told, top first.
type Blocker interface {
	Block()
}

// Framer is the capability of the bottom layer to read the view and sender
// a datagram names, without checking them.
type Framer interface {
	Datagram(data []byte) (view uint64, sender int, ok bool)
}

// flush implements Flush over the layers found by New.
type flush struct {
	counter Cutter
	settler Settler
	// cuts[r] is the cut of origin r, NoCut if lifted or never set.
	cuts         []uint64
	excluder     Excluder
	acknowledger Acknowledger
	blockers     []Blocker // bottom first
	framer       Framer
}

// find records which layer provides each capability; two layers offering
// the same one would make the view change ambiguous.
func (f *flush) find(l Layer) error {
	if err := capability(&f.counter, l, "multicast counts"); err != nil {
		return err
	}
	if err := capability(&f.excluder, l, "stability exclusion"); err != nil {
		return err
	}
	if err := capability(&f.acknowledger, l, "point-to-point acknowledgement"); err != nil {
		return err
	}
	if err := capability(&f.settler, l, "settling at the cut"); err != nil {
		return err
	}
	if b, ok := l.(Blocker); ok {
		f.blockers = append(f.blockers, b)
	}
	return capability(&f.framer, l, "datagram header")
}

func capability[T any](slot *T, l Layer, what string) error {
	c, ok := l.(T)
	if !ok {
		return nil
	}
	if any(*slot) != nil {
		return fmt.Errorf("layers: two layers provide %s (the second is %q)", what, l.Name())
	}
	*slot = c
	return nil
}

func (f *flush) HasCutter() bool { return f.counter != nil }

func (f *flush) Sent() uint64 {
	if f.counter == nil {
		return 0
	}
	return f.counter.Sent()
}

func (f *flush) Delivered(origin int) uint64 {
	if f.counter == nil {
		return 0
	}
	d := f.counter.Delivered(origin)
	if f.settler != nil {
		d -= min(d, f.settler.Held(origin))
	}
	return d
}

func (f *flush) Cut(origin int, upTo uint64, holder int) {
	if f.counter == nil {
		return
	}
	if origin >= 0 && origin < maxMembers {
		for len(f.cuts) <= origin {
			f.cuts = append(f.cuts, NoCut)
		}
		f.cuts[origin] = upTo
	}
	f.counter.Cut(origin, upTo, holder)
}

// maxMembers bounds the origins whose own cuts the flush records: the
// membership protocol's cuts name the view's ranks.
const maxMembers = 1 << 16

// ReachedCuts settles the cuts once the counts are reached (Settler),
// which may refuse held messages and so un-reach them.
// Like Block, it then has outputs (the reliable multicast layer's NAKs).
func (f *flush) ReachedCuts() bool {
	if f.counter == nil {
		return true
	}
	if !f.counter.ReachedCuts() {
		return false
	}
	if f.settler == nil {
		return true
	}
	for origin, count := range f.cuts {
		if count != NoCut {
			f.settler.Settle(origin, count)
		}
	}
	return f.counter.ReachedCuts()
}

func (f *flush) Exclude(member int, exclude bool) {
	if f.excluder != nil {
		f.excluder.Ignore(member, exclude)
	}
}

func (f *flush) Unacknowledged(peer int) bool {
	return f.acknowledger != nil && f.acknowledger.Unacknowledged(peer)
}

// Block tells the layers top first, so that what an upper layer sends as
// it finishes (total) still joins a lower one's last batch (sign's) before
// that one closes.
func (f *flush) Block() {
	for i := len(f.blockers) - 1; i >= 0; i-- {
		f.blockers[i].Block()
	}
}

func (f *flush) Datagram(data []byte) (uint64, int, bool) {
	if f.framer == nil {
		return 0, 0, false
	}
	return f.framer.Datagram(data)
}

// ViewFlush returns the stack's view change interface. It is valid for
// the stack's life, and, like the stack, not safe for concurrent use.
func (s *Stack) ViewFlush() Flush { return &s.flush }
