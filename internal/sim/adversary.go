package sim

import (
	"bytes"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
	"github.com/conclave-go/conclave/layers/pt2pt"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// The adversary (Config.Attackers) attacks the group from the moment it
// starts forming until the final round is delivered. Every AttackEvery it
// sends one hostile datagram (internal/hostile) to a running member:
//
//   - 4 in 10 spoof another member of the victim's view: stack datagrams
//     whose sequence numbers lie outside what the real member may still
//     send (below what the victim delivered, beyond its window, near
//     2^64−1), NAK floods, bundles packed to the limit and over the
//     datagram size, huge stability gossip, bad headers;
//   - 1 in 4 come from a stranger: control messages (Probes claiming
//     larger views coordinated at third addresses, MergeReqs naming
//     made-up joiners at third addresses, Flush, Sync and Install from a
//     non-member, …) and stack datagrams of every kind;
//   - 3 in 20 come from a stranger that reads what members send to its
//     address, as a real one can: it probes to fetch cookies, then proves
//     its address with them to ask to be merged in at logical times near
//     2^64−1 (naming third addresses with forged cookies too), or to claim
//     a larger view that should absorb the member's;
//   - 1 in 5 replay real traffic recorded earlier: a stack datagram to its
//     first destination from its real source (an old duplicate), or
//     anything from a stranger (or, in a secured run, from an outsider of
//     attackers.go).
//
// A spoofed member's datagram never carries a sequence number the real
// member may still use: such an in-window forgery is what that member
// could send itself before authentication exists, and no defence short
// of authentication stops it (Checker would report the message it
// displaces). Unsealed control messages are never spoofed, for the same
// reason: a forged Leave or Suspect does what the member could; nor
// replayed from the member that sent them (an old Probe of its, say, tells
// the others it has moved on to another view, which makes them exclude
// it). Sealed ones, forged by insiders and ex-members and replayed from
// their sender, are the secure group's attackers' (attackers.go).
//
// After every step the run checks what the attacks must not achieve:
//
//   - no member panics (every input to a member is guarded; a panic is a
//     violation and the member counts as crashed);
//   - no member holds more than its stated bound, in its stack
//     (layers.Stack.Footprint) or in the membership protocol
//     (membership.Member.Footprint), checked every FootprintEvery;
//   - no member sends a stranger more than 3 times the bytes it received
//     from it (anti-amplification), until the stranger has proven its
//     address with a cookie;
//   - no member sends anything to an address that is no member's, no
//     seed's and no stranger's that sent something: a third address named
//     only inside a hostile datagram;
//   - no member retransmits one message to one requester more than once
//     per NAK interval, nor more than the retransmission budget per
//     interval; since a member counts intervals from its first answer, the
//     check allows twice as many within any span of one interval (and one
//     more for a point-to-point message, whose sender also resends the
//     oldest on a timeout);
//
// and the usual checks still hold: the attacker must not make a member
// deliver what was not sent, nor stall or split the group.
const (
	AttackEvery    = 2 * time.Millisecond
	FootprintEvery = 10 * time.Millisecond
	// AmplificationFactor bounds the bytes a member sends a stranger, as a
	// multiple of those it received from it.
	AmplificationFactor = 3
)

// Addresses of the adversary: strangers send, third addresses never do.
const (
	strangers  = 4
	thirdAddrs = 4
	tapeSize   = 128 // recorded datagrams kept for replay
	tapeEvery  = 32  // one datagram in this many is recorded
)

// strangerAddr is the address of stranger i, outside the members' range.
func strangerAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 66, 0, byte(1 + i)}), 7000)
}

// thirdAddr is third address i (TEST-NET-1): no one there ever sends.
func thirdAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{192, 0, 2, byte(1 + i)}), 7000)
}

type adversary struct {
	rng       *rand.Rand
	strangers []netip.AddrPort
	third     []netip.AddrPort
	spoke     map[netip.AddrPort]bool // strangers that sent something
	answers   map[answerKey]answer    // cookies strangers fetched
	proven    map[answerKey]bool      // a stranger echoed the member's cookie to it
	joined    map[netip.AddrPort]bool // strangers a member installed a view with
	next      time.Duration           // the next attack
	nextCheck time.Duration           // the next footprint check
	tape      []recorded
	tapeAt    int
	taped     int
	buf       []byte

	retrans map[retransKey][]time.Duration // by message: when retransmitted
	perPeer map[peerKey][]time.Duration    // by requester: mnak retransmissions
	found   []hostile.Retrans
	scratch []layers.Event
	said    map[string]bool // violations reported once per key

	// footprints, when set, replaces what members report of their state
	// (tests make a member overrun its bound with it).
	footprints func(p int) (stack, stackBound, member, memberBound int)
}

// answerKey names what a stranger learnt from one member.
type answerKey struct{ stranger, member netip.AddrPort }

type answer struct {
	hostile.Answer
	at time.Duration
}

type recorded struct {
	from, to netip.AddrPort
	data     []byte
}

type retransKey struct {
	proc   int
	to     netip.AddrPort
	view   uint64
	origin int
	seq    uint64
}

type peerKey struct {
	proc int
	to   netip.AddrPort
}

func newAdversary(seed uint64) *adversary {
	a := &adversary{
		rng:     rand.New(rand.NewPCG(mix(seed, streamAttack), seed)),
		spoke:   make(map[netip.AddrPort]bool),
		answers: make(map[answerKey]answer),
		proven:  make(map[answerKey]bool),
		joined:  make(map[netip.AddrPort]bool),
		retrans: make(map[retransKey][]time.Duration),
		perPeer: make(map[peerKey][]time.Duration),
		said:    make(map[string]bool),
	}
	for i := range strangers {
		a.strangers = append(a.strangers, strangerAddr(i))
	}
	for i := range thirdAddrs {
		a.third = append(a.third, thirdAddr(i))
	}
	return a
}

// violateOnce reports a violation the first time its key comes up.
func (r *run) violateOnce(key, format string, args ...any) {
	if r.adv.said[key] {
		return
	}
	r.adv.said[key] = true
	r.checker.violate(format, args...)
}

// attacking reports whether the adversary is at work now.
func (r *run) attacking() bool {
	return r.adv != nil && r.phase <= phaseFinal
}

// attack sends the hostile datagram due now, if any, and checks the
// members' footprints when due.
func (r *run) attack() {
	a := r.adv
	if r.now >= a.nextCheck {
		a.nextCheck = r.now + FootprintEvery
		r.checkFootprints()
	}
	if r.sec != nil {
		r.secureAttack()
	}
	if r.now < a.next {
		return
	}
	a.next = r.now + AttackEvery
	var up []int
	for p, pr := range r.procs {
		if pr.state == StateUp {
			up = append(up, p)
		}
	}
	if len(up) == 0 {
		return
	}
	p := up[a.rng.IntN(len(up))]
	pr := r.procs[p]
	to := pr.self.Addr
	stranger := a.strangers[a.rng.IntN(len(a.strangers))]
	from := stranger
	var what string
	kind := AttackStranger
	switch k := a.rng.IntN(20); {
	case k < 8:
		kind = AttackSpoofed
		v := pr.m.View()
		if len(v.Members) < 2 {
			return
		}
		q := a.rng.IntN(len(v.Members) - 1)
		if q >= v.Rank(pr.self) {
			q++
		}
		from = v.Members[q].Addr
		var kind hostile.Kind
		kind, a.buf = r.target(pr, v, true).Datagram(a.rng, q, hostile.Any, a.buf[:0])
		what = fmt.Sprintf("%v as %v", kind, v.Members[q])
	case k < 12:
		s := hostile.Stranger{Group: group, Self: stranger, View: pr.m.View(), Third: a.third}
		var typ hostile.ControlType
		typ, a.buf = s.Control(a.rng, a.buf[:0])
		what = fmt.Sprintf("%v from a stranger", typ)
	case k < 13:
		v := pr.m.View()
		var kind hostile.Kind
		kind, a.buf = r.target(pr, v, false).Datagram(a.rng, a.rng.IntN(len(v.Members)+1), hostile.Any, a.buf[:0])
		what = fmt.Sprintf("%v from a stranger", kind)
	case k < 16:
		what = r.activeStranger(pr, stranger)
	default:
		if len(a.tape) == 0 {
			return
		}
		rec := a.tape[a.rng.IntN(len(a.tape))]
		a.buf = append(a.buf[:0], rec.data...)
		kind = AttackRecorded
		if k < 19 && rec.data[0] != membership.Magic {
			// An old duplicate from its real source to its first
			// destination: whoever is there now.
			from, to = rec.from, rec.to
			what = "replay"
		} else if r.sec != nil && a.rng.IntN(2) == 0 {
			// The outsiders (attackers.go) replay what they recorded
			// from their own addresses too.
			o := r.sec.outsiders[a.rng.IntN(len(r.sec.outsiders))]
			from = o.self.Addr
			what = "replay from " + o.name
		} else {
			what = "replay from a stranger"
		}
	}
	if from == stranger {
		a.spoke[stranger] = true
	}
	r.res.Attacks++
	if r.log != nil {
		r.logf("attack: %s, %d bytes, %v → %v", what, len(a.buf), from, to)
	}
	if r.sec != nil {
		r.sec.mark(kind, from, to, a.buf)
	}
	r.net.Send(r.now, from, to, a.buf)
}

// strangerSelf is stranger s's endpoint in what it sends as an active
// stranger: one incarnation, so that its merge requests name one joiner.
func strangerSelf(s netip.AddrPort) membership.Endpoint {
	return membership.Endpoint{Addr: s, Inc: 0x57000000 | uint32(s.Addr().As4()[3])}
}

// activeStranger makes stranger s act on what it learnt from member pr:
// with a fresh cookie of pr's, it asks to be merged in at a hostile
// logical time or claims a larger view; without one, it probes for one.
func (r *run) activeStranger(pr *proc, s netip.AddrPort) string {
	a := r.adv
	self := strangerSelf(s)
	st := hostile.Stranger{Group: group, Self: s}
	key := answerKey{s, pr.self.Addr}
	ans, ok := a.answers[key]
	if !ok || r.now-ans.at >= membership.CookieBucket || a.rng.IntN(4) == 0 {
		c := hostile.Control{Group: group, Type: hostile.Probe, From: self, Pad: 64,
			Summary: membership.Summary{ID: membership.ViewID{LTime: 1, Coord: self}, Size: 1, Coord: self}}
		a.buf = c.Append(a.buf[:0])
		return "probe for a cookie"
	}
	a.proven[key] = true
	ltimes := []uint64{0, 1, ans.Summary.ID.LTime + 1, 1 << 32, membership.MaxLTime, membership.MaxLTime + 1, math.MaxUint64 - 1, math.MaxUint64}
	ltime := ltimes[a.rng.IntN(len(ltimes))]
	if a.rng.IntN(3) == 0 {
		a.buf = st.Claim(self, ans.Answer, ltime, membership.MaxMembers, a.buf[:0])
		return fmt.Sprintf("claim of a larger view at logical time %d, cookie echoed", ltime)
	}
	var third []netip.AddrPort
	if a.rng.IntN(2) == 0 {
		third = a.third[:1+a.rng.IntN(len(a.third))]
	}
	a.buf = st.Merge(self, ans.Answer, ltime, third, a.buf[:0])
	return fmt.Sprintf("merge request at logical time %d with %d third addresses, cookie echoed", ltime, len(third))
}

// provenAnywhere reports whether stranger s has proven its address to a
// member.
func (a *adversary) provenAnywhere(s netip.AddrPort) bool {
	for k := range a.proven {
		if k.stranger == s {
			return true
		}
	}
	return false
}

// hear lets a stranger read what a member sent to its address: the
// cookies in Probes and ProbeReplies.
func (r *run) hear(d *transport.Delivery) {
	a := r.adv
	if !slices.Contains(a.strangers, d.To) {
		return
	}
	if ans, ok := hostile.ReadAnswer(d.Data, group); ok && ans.Cookie != nil {
		a.answers[answerKey{d.To, d.From}] = answer{Answer: ans, at: r.now}
	}
}

// target describes the victim as an eavesdropper sees it.
func (r *run) target(pr *proc, v membership.View, safe bool) *hostile.Target {
	t := &hostile.Target{
		Group: group, View: v.ID.Wire(), N: len(v.Members), Rank: v.Rank(pr.self),
		Total: r.cfg.Total, MaxDatagram: layers.DefaultMaxDatagram, Safe: safe,
	}
	m, _ := pr.m.Stack().Layer("mnak").(*mnak.Layer)
	for o := range t.N {
		var low, next, known uint64
		if m != nil {
			low, next, known = m.Progress(o)
		}
		// A sender is never more than its flow control window ahead of
		// a member, plus the sequencer's ORDERs under total order.
		t.Casts = append(t.Casts, hostile.Window{Low: low, Next: next, Known: known, Size: mnak.DefaultMaxHeld, Ahead: mflow.DefaultWindow + 1024})
		// Where pt2pt's incoming streams are is not known: only huge
		// numbers are safe.
		t.Sends = append(t.Sends, hostile.Window{Size: 2 * pt2pt.DefaultWindow, Ahead: 1 << 32})
	}
	return t
}

// watch checks one datagram member p sent, already handed to the network,
// and records some for replay.
func (r *run) watch(p int, to netip.AddrPort, data []byte) {
	a := r.adv
	if a.taped++; a.taped%tapeEvery == 0 {
		rec := recorded{from: r.procs[p].self.Addr, to: to, data: bytes.Clone(data)}
		if len(a.tape) < tapeSize {
			a.tape = append(a.tape, rec)
		} else {
			a.tape[a.tapeAt] = rec
			a.tapeAt = (a.tapeAt + 1) % tapeSize
		}
	}
	switch {
	case r.isMemberAddr(to):
		r.watchRetrans(p, to, data)
	case r.sec != nil && r.sec.outsiderAt(to) != nil:
		// An outsider runs the protocol for real (attackers.go): it
		// proves its address as any joiner does.
	case a.provenAnywhere(to) || a.joined[to]:
		// The stranger proved its address, to this member or to another
		// (who may have taken it into a view, or into a round that this
		// member took over): it is no victim of reflection.
	case a.spoke[to]:
		out := r.net.Flow(r.procs[p].self.Addr, to).SentBytes
		in := r.net.Flow(to, r.procs[p].self.Addr).DeliveredBytes
		if out > AmplificationFactor*in {
			r.violateOnce(fmt.Sprintf("amp %d %v", p, to),
				"amplification: member %d sent %d bytes to stranger %v, which had sent it %d (at most %dx)", p, out, to, in, AmplificationFactor)
		}
	default:
		r.violateOnce(fmt.Sprintf("third %d %v", p, to),
			"third address: member %d sent a %d-byte datagram to %v at %v, an address of no member or seed that sent nothing (named in a hostile datagram)", p, len(data), to, r.now)
	}
}

// isMemberAddr reports whether addr was ever given to a process.
func (r *run) isMemberAddr(addr netip.AddrPort) bool {
	first := transport.Addr(0)
	return addr.Addr() == first.Addr() && addr.Port() >= first.Port() && int(addr.Port()-first.Port()) < r.addrs
}

// watchRetrans holds member p's retransmissions to the rules.
func (r *run) watchRetrans(p int, to netip.AddrPort, data []byte) {
	a := r.adv
	a.found, a.scratch = hostile.Retransmissions(data, a.found[:0], a.scratch)
	for _, rt := range a.found {
		k := retransKey{proc: p, to: to, view: rt.View, origin: rt.Origin, seq: rt.Seq}
		times := appendRecent(a.retrans[k], r.now, mnak.DefaultNakInterval)
		a.retrans[k] = times
		allowed := 2
		what := fmt.Sprintf("cast #%d of rank %d", rt.Seq, rt.Origin)
		if rt.Origin < 0 {
			allowed, what = 3, fmt.Sprintf("point-to-point message #%d", rt.Seq)
		}
		if len(times) > allowed {
			r.violateOnce(fmt.Sprintf("retrans %d %v", p, to),
				"retransmission: member %d retransmitted %s to %v %d times within %v", p, what, to, len(times), mnak.DefaultNakInterval)
		}
		if rt.Origin >= 0 {
			pk := peerKey{p, to}
			pp := appendRecent(a.perPeer[pk], r.now, mnak.DefaultNakInterval)
			a.perPeer[pk] = pp
			if len(pp) > 2*mnak.DefaultRetransBudget {
				r.violateOnce(fmt.Sprintf("budget %d %v", p, to),
					"retransmission: member %d retransmitted %d casts to %v within %v, over twice the budget of %d", p, len(pp), to, mnak.DefaultNakInterval, mnak.DefaultRetransBudget)
			}
		}
	}
}

// appendRecent appends now to times, dropping those no longer within
// window of it.
func appendRecent(times []time.Duration, now, window time.Duration) []time.Duration {
	k := 0
	for k < len(times) && times[k] <= now-window {
		k++
	}
	return append(times[k:], now)
}

// checkFootprints holds every running member's state to its stated bound.
func (r *run) checkFootprints() {
	for p, pr := range r.procs {
		if pr.state != StateUp {
			continue
		}
		var sf, sb, mf, mb int
		if r.adv.footprints != nil {
			sf, sb, mf, mb = r.adv.footprints(p)
		} else {
			s := pr.m.Stack()
			sf, sb, mf, mb = s.Footprint(), s.FootprintBound(), pr.m.Footprint(), pr.m.FootprintBound()
		}
		if sf > sb {
			r.violateOnce(fmt.Sprintf("stack %d", p), "memory: member %d's stack holds %d bytes, over its bound of %d", p, sf, sb)
		}
		if mf > mb {
			r.violateOnce(fmt.Sprintf("member %d", p), "memory: member %d's membership state holds %d entries, over its bound of %d", p, mf, mb)
		}
	}
}
