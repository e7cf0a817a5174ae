package sim

import (
	"slices"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// checkerFixture feeds a Checker hand-made event streams: processes,
// views they agree to and install, messages they send and deliver.
type checkerFixture struct {
	t  *testing.T
	c  *Checker
	es []membership.Endpoint
	ps map[ID][]byte
	n  map[ID]int // by stream: messages sent
}

// newCheckerFixture starts n processes, all in view 1@m0 of all of them.
func newCheckerFixture(t *testing.T, n int) *checkerFixture {
	f := &checkerFixture{t: t, c: NewChecker(false), ps: map[ID][]byte{}, n: map[ID]int{}}
	for range n {
		f.start()
	}
	f.change(f.view(1, 0, all(n)...), all(n)...)
	return f
}

func all(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func (f *checkerFixture) start() int {
	p := len(f.es)
	e := membership.Endpoint{Addr: transport.Addr(p), Inc: uint32(p + 1)}
	f.es = append(f.es, e)
	f.c.Start(p, e)
	return p
}

// view is the view ltime@coord of the given processes, in that order.
func (f *checkerFixture) view(ltime uint64, coord int, members ...int) membership.View {
	v := membership.View{ID: membership.ViewID{LTime: ltime, Coord: f.es[coord]}}
	for _, p := range members {
		v.Members = append(v.Members, f.es[p])
	}
	return v
}

func (f *checkerFixture) consent(v membership.View, ps ...int) {
	for _, p := range ps {
		f.c.Consent(p, v)
	}
}

func (f *checkerFixture) install(v membership.View, ps ...int) {
	for _, p := range ps {
		f.c.Event(p, &membership.Event{Kind: membership.ViewChange, View: v})
	}
}

// change makes the processes ps agree to v, then install it.
func (f *checkerFixture) change(v membership.View, ps ...int) {
	f.consent(v, ps...)
	f.install(v, ps...)
}

// sent makes p send the next message of a stream (a cast when to < 0),
// blocked or not.
func (f *checkerFixture) sent(p, to int, blocked bool) ID {
	id := ID{Kind: KindCast, From: p}
	if to >= 0 {
		id.Kind, id.To = KindSend, to
	}
	id.Index = f.n[id]
	f.n[streamKey(id)]++
	pl := Payload(1, id, 20+id.Index)
	f.ps[id] = pl
	f.c.Sent(p, id, pl, blocked)
	return id
}

// cast makes p cast the next message and deliver it to itself, as a
// member does.
func (f *checkerFixture) cast(p int) ID {
	id := f.sent(p, -1, false)
	f.deliver(p, id)
	return id
}

// deliver hands receiver the message id as a correct member would.
func (f *checkerFixture) deliver(receiver int, id ID) {
	f.c.Event(receiver, &membership.Event{Kind: membership.Message, From: f.es[id.From], Multicast: id.Kind == KindCast, Data: f.ps[id]})
}

func (f *checkerFixture) deliverTo(id ID, receivers ...int) {
	for _, q := range receivers {
		f.deliver(q, id)
	}
}

// want asserts that the checker reported exactly n violations, the first
// containing text.
func (f *checkerFixture) want(n int, text string) {
	f.t.Helper()
	v := f.c.Violations()
	if f.c.Count() != n || len(v) != n {
		f.t.Fatalf("%d violations %q, want %d", f.c.Count(), v, n)
	}
	if n > 0 && !strings.Contains(v[0], text) {
		f.t.Fatalf("violation %q, want one containing %q", v[0], text)
	}
}

// finish runs Finish and asserts as want does.
func (f *checkerFixture) finish(n int, text string) {
	f.t.Helper()
	f.c.Finish(nil)
	f.want(n, text)
}

// TestCheckerAcceptsCorrectRun runs a group through a view change with
// casts, sends and one member sending while blocked.
func TestCheckerAcceptsCorrectRun(t *testing.T) {
	f := newCheckerFixture(t, 3)
	for range 3 {
		f.deliverTo(f.cast(0), 1, 2)
	}
	for range 2 {
		id := f.sent(0, 1, false)
		f.c.Expect(id, 1)
		f.deliver(1, id)
	}
	f.deliverTo(f.cast(2), 0, 1)
	// m1 blocks for the change to view 2 and casts meanwhile: the cast
	// goes out in view 2.
	blocked := f.sent(1, -1, true)
	sendBlocked := f.sent(1, 0, true)
	f.change(f.view(2, 0, 0, 1, 2), 0, 1, 2)
	f.deliverTo(blocked, 1, 0, 2)
	f.deliver(0, sendBlocked)
	// m2 leaves; m0 and m1 go on.
	f.c.Leaving(2)
	f.c.Event(2, &membership.Event{Kind: membership.Left})
	f.change(f.view(3, 0, 0, 1), 0, 1)
	id := f.cast(1)
	f.c.Expect(id, 0)
	if f.c.Complete() {
		t.Fatal("complete with a delivery outstanding")
	}
	f.deliver(0, id)
	if !f.c.Complete() || f.c.Outstanding() != 0 {
		t.Fatalf("not complete: %d outstanding", f.c.Outstanding())
	}
	f.finish(0, "")
}

func TestCheckerReportsDuplicate(t *testing.T) {
	f := newCheckerFixture(t, 3)
	id := f.cast(0)
	f.deliverTo(id, 1, 2)
	f.deliver(2, id)
	f.want(1, "member 2: delivered cast 0 #0 twice")
	s := f.sent(0, 1, false)
	f.deliver(1, s)
	f.deliver(1, s)
	f.want(2, "")
}

func TestCheckerReportsGap(t *testing.T) {
	f := newCheckerFixture(t, 3)
	a, _, c := f.cast(0), f.cast(0), f.cast(0)
	f.deliver(1, a)
	f.deliver(1, c)
	f.want(1, "member 1: delivered cast 0 #2 before #1 (FIFO gap in view 1@m0 [m0 m1 m2])")
}

func TestCheckerReportsReorder(t *testing.T) {
	f := newCheckerFixture(t, 2)
	a, b := f.sent(0, 1, false), f.sent(0, 1, false)
	f.deliver(1, b)
	f.deliver(1, a)
	f.want(2, "member 1: delivered send 0→1 #1 before #0")
	if v := f.c.Violations()[1]; !strings.Contains(v, "delivered send 0→1 #0 after #1 (FIFO order)") {
		t.Fatalf("second violation %q", v)
	}
}

func TestCheckerReportsForgedSender(t *testing.T) {
	f := newCheckerFixture(t, 3)
	id := f.cast(0)
	f.c.Event(2, &membership.Event{Kind: membership.Message, From: f.es[1], Multicast: true, Data: f.ps[id]})
	f.want(1, "member 2: delivered cast 0 #0 as from m1 (forged sender)")
	stranger := membership.Endpoint{Addr: transport.Addr(0), Inc: 99}
	f.c.Event(2, &membership.Event{Kind: membership.Message, From: stranger, Multicast: true, Data: f.ps[id]})
	f.want(2, "")
	if v := f.c.Violations()[1]; !strings.Contains(v, "as from 127.0.0.1:10000#00000063 (forged sender)") {
		t.Fatalf("second violation %q", v)
	}
}

func TestCheckerReportsAlteredBytes(t *testing.T) {
	for name, alter := range map[string]func([]byte) []byte{
		"flipped":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-1] },
		"extended":  func(b []byte) []byte { return append(b, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newCheckerFixture(t, 2)
			id := f.cast(0)
			f.c.Event(1, &membership.Event{Kind: membership.Message, From: f.es[0], Multicast: true, Data: alter(slices.Clone(f.ps[id]))})
			f.want(1, "member 1: delivered cast 0 #0 with altered bytes")
			// The altered copy does not count: the genuine one is still due.
			f.deliver(1, id)
			f.want(1, "")
		})
	}
}

func TestCheckerReportsUnsentMessages(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.cast(0)
	deliver := func(q, from int, cast bool, data []byte) {
		f.c.Event(q, &membership.Event{Kind: membership.Message, From: f.es[from], Multicast: cast, Data: data})
	}
	deliver(1, 0, true, Payload(1, ID{Kind: KindCast, From: 0, Index: 1}, 20))
	f.want(1, "member 1: delivered cast 0 #1, which was never sent")
	deliver(1, 2, true, Payload(1, ID{Kind: KindCast, From: 2}, 20))
	f.want(2, "")
	deliver(1, 0, true, Payload(1, ID{Kind: KindCast, From: 7}, 20))
	f.want(3, "")
	deliver(1, 2, false, []byte("hello"))
	f.want(4, "")
	if v := f.c.Violations()[3]; !strings.Contains(v, "member 1: delivered a Send of 5 bytes from m2 that nobody sent") {
		t.Fatalf("violation %q", v)
	}
}

func TestCheckerReportsMisdeliveredSend(t *testing.T) {
	f := newCheckerFixture(t, 3)
	id := f.sent(0, 1, false)
	f.c.Expect(id, 1)
	f.deliver(2, id)
	f.want(1, "member 2: delivered send 0→1 #0, meant for member 1 only")
	// Member 1 still has to get it.
	if f.c.Outstanding() != 1 {
		t.Fatalf("%d outstanding", f.c.Outstanding())
	}
}

func TestCheckerReportsWrongType(t *testing.T) {
	f := newCheckerFixture(t, 2)
	id := f.cast(0)
	f.c.Event(1, &membership.Event{Kind: membership.Message, From: f.es[0], Multicast: false, Data: f.ps[id]})
	f.want(1, "member 1: delivered cast 0 #0 as a Send, not a Cast")
}

func TestCheckerReportsUndeliveredAtDeadline(t *testing.T) {
	f := newCheckerFixture(t, 3)
	var ids []ID
	for range 3 {
		id := f.cast(0)
		ids = append(ids, id)
		for q := range 3 {
			f.c.Expect(id, q)
		}
	}
	f.deliverTo(ids[0], 1, 2)
	f.deliverTo(ids[1], 1)
	f.deliverTo(ids[2], 1)
	want := []Stall{{Receiver: 2, First: ids[1], Missing: 2, Expected: 3}}
	if got := f.c.Stalls(); !slices.Equal(got, want) {
		t.Fatalf("Stalls() = %v, want %v", got, want)
	}
	f.finish(1, "member 2: 2 of 3 casts from 0 undelivered at the deadline, first cast 0 #1")

	f = newCheckerFixture(t, 2)
	id := f.sent(0, 1, false)
	f.c.Expect(id, 1)
	f.finish(1, "member 1: 1 of 1 sends 0→1 undelivered at the deadline, first send 0→1 #0")
}

func TestCheckerBoundsViolations(t *testing.T) {
	f := newCheckerFixture(t, 2)
	for range 2 * MaxViolations {
		f.c.Event(0, &membership.Event{Kind: membership.Message, From: f.es[1], Multicast: true, Data: []byte("x")})
	}
	v := f.c.Violations()
	if f.c.Count() != 2*MaxViolations || len(v) != MaxViolations+1 || v[MaxViolations] != "… and 20 more violations" {
		t.Fatalf("count %d, %d described, last %q", f.c.Count(), len(v), v[len(v)-1])
	}
}

// The view checks.

func TestCheckerReportsSameIDOtherMembers(t *testing.T) {
	f := newCheckerFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.change(v, 0, 1, 2)
	f.want(0, "")
	f.change(f.view(3, 0, 0, 1), 0, 1)
	f.want(0, "")
	f.install(f.view(3, 0, 0, 2), 2)
	f.want(1, "member 2: installed view 3@m0 [m0 m2], which member 0 installed as view 3@m0 [m0 m1]")
}

func TestCheckerReportsViewOrder(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.change(f.view(5, 1, 1, 2), 1, 2)
	// Same logical time, smaller coordinator: an older view.
	f.change(f.view(5, 0, 0, 1, 2), 0, 1, 2)
	f.want(2, "member 1: installed view 5@m0 [m0 m1 m2] after view 5@m1 [m1 m2] (view ids must increase)")
	f.change(f.view(4, 2, 2), 2)
	f.want(3, "")
	if got := f.c.Violations()[2]; !strings.Contains(got, "member 2: installed view 4@m2 [m2] after view 5@m0") {
		t.Fatalf("violation %q", got)
	}
}

func TestCheckerReportsViewWithoutSelf(t *testing.T) {
	f := newCheckerFixture(t, 3)
	v := f.view(2, 0, 0, 1)
	f.consent(v, 0, 1)
	f.install(v, 2)
	f.want(1, "member 2: installed view 2@m0 [m0 m1], which it is not in")
}

func TestCheckerReportsMissingConsent(t *testing.T) {
	f := newCheckerFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.consent(v, 0, 1)
	f.install(v, 0)
	f.want(1, "member 0: installed view 2@m0 [m0 m1 m2], but member 2 never agreed to it")

	// Consent to the same id with other members does not count.
	f = newCheckerFixture(t, 3)
	f.consent(f.view(2, 0, 0, 1), 1)
	f.change(f.view(2, 0, 0, 1, 2), 0, 2)
	f.want(1, "member 0: installed view 2@m0 [m0 m1 m2], but member 1 agreed to it as view 2@m0 [m0 m1]")
}

// TestCheckerReportsDepartedInLaterView: a crashed or departed member
// cannot agree to views any more, so a later view listing it fails the
// consent check; its restart, a new endpoint, may join.
func TestCheckerReportsDepartedInLaterView(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.c.Crashed(2)
	f.c.Consent(2, f.view(2, 0, 0, 1, 2))
	f.want(1, "member 2: agreed to view 2@m0 [m0 m1 m2] after it crashed")
	v := f.view(2, 0, 0, 1, 2)
	f.change(v, 0, 1)
	f.want(2, "")
	if got := f.c.Violations()[1]; got != "member 0: installed view 2@m0 [m0 m1 m2], but member 2 never agreed to it (it had crashed)" {
		t.Fatalf("violation %q", got)
	}
	// m3 restarts at m2's address: a new endpoint, welcome.
	f.start()
	f.change(f.view(3, 0, 0, 1, 3), 0, 1, 3)
	f.want(2, "")

	f = newCheckerFixture(t, 3)
	f.c.Leaving(1)
	f.c.Event(1, &membership.Event{Kind: membership.Left})
	f.change(f.view(2, 0, 0, 2), 0, 2)
	f.consent(f.view(3, 0, 0, 1, 2), 0, 2)
	f.install(f.view(3, 0, 0, 1, 2), 0)
	f.want(1, "member 0: installed view 3@m0 [m0 m1 m2], but member 1 never agreed to it (it had left)")
}

func TestCheckerReportsLeaving(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.c.Event(1, &membership.Event{Kind: membership.Left})
	f.want(1, "member 1: left the group without calling Leave")
	f.deliver(1, f.cast(0))
	f.want(2, "")
	if got := f.c.Violations()[1]; got != "member 1: message event after it left" {
		t.Fatalf("violation %q", got)
	}
}

func TestCheckerReportsDeliveryOutsideView(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.change(f.view(2, 0, 0, 1), 0, 1)
	f.change(f.view(2, 2, 2), 2)
	// m2, alone, casts; m0 delivers it in a view without m2.
	f.deliver(0, f.cast(2))
	f.want(1, "member 0: delivered cast 2 #0 from m2, which is not in its view 2@m0 [m0 m1]")

	f = newCheckerFixture(t, 3)
	f.start()
	f.deliver(3, f.cast(0))
	f.want(1, "member 3: delivered cast 0 #0 before installing any view")
}

func TestCheckerReportsOwnCastInOtherView(t *testing.T) {
	f := newCheckerFixture(t, 2)
	id := f.sent(0, -1, false) // sent in view 1
	f.change(f.view(2, 0, 0, 1), 0, 1)
	f.deliver(0, id)
	f.want(1, "member 0: delivered its own cast 0 #0 in view 2@m0 [m0 m1], but sent it in view 1@m0")
}

func TestCheckerReportsOwnCastNeverDelivered(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.cast(0)
	f.sent(0, -1, true) // while blocked
	f.sent(1, -1, false)
	f.sent(2, -1, false) // m2 crashes: excused
	f.c.Crashed(2)
	f.finish(2, "member 0: never delivered 1 of its own 2 casts, first cast 0 #1")
	if got := f.c.Violations()[1]; got != "member 1: never delivered 1 of its own 1 casts, first cast 1 #0" {
		t.Fatalf("violation %q", got)
	}
}

// TestCheckerReportsGapAtViewStart: a member that misses the first
// messages a sender sent in a view has a gap, even when it delivers the
// rest in order.
func TestCheckerReportsGapAtViewStart(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.cast(0)
	f.deliverTo(f.cast(0), 1)
	f.finish(1, "member 1: delivered cast 0 #1 before #0 (FIFO gap in view 1@m0 [m0 m1 m2])")

	// Nor may it deliver in a view what went out in a later one.
	f = newCheckerFixture(t, 3)
	a := f.cast(0)
	f.deliverTo(a, 2)
	f.change(f.view(2, 0, 0, 2), 0, 2)
	b := f.cast(0)
	f.deliverTo(b, 2)
	f.deliverTo(a, 1)
	f.deliverTo(b, 1)
	f.want(0, "")
	f.finish(1, "member 1: delivered cast 0 #1 in view 1@m0 [m0 m1 m2], where only 1 of casts from 0 went out")

	f = newCheckerFixture(t, 2)
	id := f.sent(0, 1, false)
	f.change(f.view(2, 0, 0, 1), 0, 1)
	f.deliver(1, id)
	f.finish(1, "member 1: delivered send 0→1 #0 in view 2@m0 [m0 m1], where only 0 of sends 0→1 went out")
}

func TestCheckerReportsVirtualSynchrony(t *testing.T) {
	f := newCheckerFixture(t, 3)
	a := f.cast(0)
	f.deliverTo(a, 1, 2)
	b := f.cast(0)
	f.deliverTo(b, 1) // not m2
	f.change(f.view(2, 0, 0, 1, 2), 0, 1, 2)
	f.finish(1, "virtual synchrony: members 0 and 2 moved from view 1@m0 [m0 m1 m2] to 2@m0, but cast 0 #1 was delivered there by 0 and not by 2 (2 and 1 casts)")

	// Members that part ways need not agree.
	f = newCheckerFixture(t, 3)
	f.deliverTo(f.cast(0), 1)
	f.change(f.view(2, 0, 0, 1), 0, 1)
	f.change(f.view(2, 2, 2), 2)
	f.finish(0, "")
}

func TestCheckerReportsTotalOrder(t *testing.T) {
	f := newCheckerFixture(t, 3)
	f.c.total = true
	a, b := f.sent(0, -1, false), f.sent(1, -1, false)
	f.deliverTo(a, 0, 1, 2)
	f.deliverTo(b, 1, 0)
	f.deliver(2, b)
	f.want(0, "")
	c, d := f.sent(0, -1, false), f.sent(1, -1, false)
	f.deliverTo(c, 0, 1)
	f.deliverTo(d, 0, 1)
	f.deliverTo(d, 2)
	f.deliverTo(c, 2)
	f.change(f.view(2, 0, 0, 1, 2), 0, 1, 2)
	f.finish(1, "total order: members 0 and 2 moved from view 1@m0 [m0 m1 m2] to 2@m0 but delivered cast 0 #1 and cast 1 #1 at position 2 in it")

	// Without total order, the same run is fine.
	f.c.total = false
	f.c.count, f.c.violations = 0, nil
	f.finish(0, "")
}
