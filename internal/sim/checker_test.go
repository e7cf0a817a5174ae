package sim

import (
	"slices"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/layers"
)

// checkerFixture is a group of three in which member 0 has cast three
// messages and sent two to member 1.
type checkerFixture struct {
	t  *testing.T
	c  *Checker
	ps map[ID][]byte
}

func newCheckerFixture(t *testing.T) *checkerFixture {
	f := &checkerFixture{t: t, c: NewChecker(3), ps: map[ID][]byte{}}
	for i := range 3 {
		f.sent(ID{Kind: KindCast, From: 0, Index: i}, 20+i)
	}
	for i := range 2 {
		f.sent(ID{Kind: KindSend, From: 0, To: 1, Index: i}, 30+i)
	}
	return f
}

func (f *checkerFixture) sent(id ID, size int) {
	p := Payload(1, id, size)
	f.ps[id] = p
	f.c.Sent(id, p)
}

func cast(i int) ID { return ID{Kind: KindCast, From: 0, Index: i} }
func send(i int) ID { return ID{Kind: KindSend, From: 0, To: 1, Index: i} }

// deliver hands receiver the message id as a correct stack would.
func (f *checkerFixture) deliver(receiver int, id ID) {
	f.c.Deliver(receiver, layers.Delivery{Type: deliveryType(id.Kind), From: id.From, Data: f.ps[id]})
}

// deliverAll delivers everything correctly, except to receivers in skip.
func (f *checkerFixture) deliverAll(skip ...int) {
	for r := range 3 {
		if slices.Contains(skip, r) {
			continue
		}
		for i := range 3 {
			f.deliver(r, cast(i))
		}
	}
	f.deliver(1, send(0))
	f.deliver(1, send(1))
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

func TestCheckerAcceptsCorrectDeliveries(t *testing.T) {
	f := newCheckerFixture(t)
	if f.c.Complete() {
		t.Fatal("complete before any delivery")
	}
	f.deliverAll()
	if !f.c.Complete() || f.c.Outstanding() != 0 {
		t.Fatalf("not complete: %d outstanding", f.c.Outstanding())
	}
	f.c.Finish(nil)
	f.want(0, "")
}

func TestCheckerReportsDuplicate(t *testing.T) {
	f := newCheckerFixture(t)
	f.deliverAll()
	f.deliver(2, cast(1))
	f.want(1, "member 2: delivered cast 0 #1 twice")
	f.deliver(1, send(0))
	f.want(2, "")
}

func TestCheckerReportsGap(t *testing.T) {
	f := newCheckerFixture(t)
	f.deliver(1, cast(0))
	f.deliver(1, cast(2))
	f.want(1, "member 1: delivered cast 0 #2 before #1 (FIFO gap)")
}

func TestCheckerReportsReorder(t *testing.T) {
	f := newCheckerFixture(t)
	f.deliver(1, send(1))
	f.deliver(1, send(0))
	f.want(2, "member 1: delivered send 0→1 #1 before #0")
	if v := f.c.Violations()[1]; !strings.Contains(v, "delivered send 0→1 #0 after #1 (FIFO order)") {
		t.Fatalf("second violation %q", v)
	}
}

func TestCheckerReportsForgedSender(t *testing.T) {
	f := newCheckerFixture(t)
	f.c.Deliver(2, layers.Delivery{Type: layers.ECast, From: 1, Data: f.ps[cast(0)]})
	f.want(1, "member 2: delivered cast 0 #0 as from member 1 (forged sender)")
}

func TestCheckerReportsAlteredBytes(t *testing.T) {
	for name, alter := range map[string]func([]byte) []byte{
		"flipped":   func(b []byte) []byte { b[len(b)-1] ^= 1; return b },
		"truncated": func(b []byte) []byte { return b[:len(b)-1] },
		"extended":  func(b []byte) []byte { return append(b, 0) },
	} {
		t.Run(name, func(t *testing.T) {
			f := newCheckerFixture(t)
			f.c.Deliver(0, layers.Delivery{Type: layers.ECast, From: 0, Data: alter(slices.Clone(f.ps[cast(0)]))})
			f.want(1, "member 0: delivered cast 0 #0 with altered bytes")
			// The altered copy does not count: the genuine one is still due.
			f.deliver(0, cast(0))
			f.want(1, "")
		})
	}
}

func TestCheckerReportsUnsentMessages(t *testing.T) {
	f := newCheckerFixture(t)
	f.c.Deliver(0, layers.Delivery{Type: layers.ECast, From: 0, Data: Payload(1, cast(3), 20)})
	f.want(1, "member 0: delivered cast 0 #3, which was never sent")
	f.c.Deliver(0, layers.Delivery{Type: layers.ECast, From: 2, Data: Payload(1, ID{Kind: KindCast, From: 2}, 20)})
	f.want(2, "")
	f.c.Deliver(0, layers.Delivery{Type: layers.ECast, From: 0, Data: Payload(1, ID{Kind: KindCast, From: 7}, 20)})
	f.want(3, "")
	f.c.Deliver(1, layers.Delivery{Type: layers.ESend, From: 2, Data: []byte("hello")})
	f.want(4, "")
	if v := f.c.Violations()[3]; !strings.Contains(v, "member 1: delivered a Send of 5 bytes from member 2 that nobody sent") {
		t.Fatalf("violation %q", v)
	}
}

func TestCheckerReportsMisdeliveredSend(t *testing.T) {
	f := newCheckerFixture(t)
	f.deliver(2, send(0))
	f.want(1, "member 2: delivered send 0→1 #0, meant for member 1 only")
	// Member 1 still has to get it.
	if f.c.Outstanding() != 3*3+2 {
		t.Fatalf("%d outstanding", f.c.Outstanding())
	}
}

func TestCheckerReportsWrongType(t *testing.T) {
	f := newCheckerFixture(t)
	f.c.Deliver(1, layers.Delivery{Type: layers.ESend, From: 0, Data: f.ps[cast(0)]})
	f.want(1, "member 1: delivered cast 0 #0 as a Send, not a Cast")
}

func TestCheckerReportsUndeliveredAtDeadline(t *testing.T) {
	f := newCheckerFixture(t)
	f.deliverAll(2)
	f.deliver(2, cast(0))
	f.c.Finish(nil)
	f.want(1, "member 2: 2 of 3 casts from 0 undelivered at the deadline, first cast 0 #1")
	want := []Stall{{Receiver: 2, First: cast(1), Missing: 2, Sent: 3}}
	if got := f.c.Stalls(); !slices.Equal(got, want) {
		t.Fatalf("Stalls() = %v, want %v", got, want)
	}

	f = newCheckerFixture(t)
	f.deliverAll()
	f.sent(send(2), 40)
	f.c.Finish(nil)
	f.want(1, "member 1: 1 of 3 sends 0→1 undelivered at the deadline, first send 0→1 #2")
}

func TestCheckerBoundsViolations(t *testing.T) {
	f := newCheckerFixture(t)
	for range 2 * MaxViolations {
		f.c.Deliver(0, layers.Delivery{Type: layers.ECast, Data: []byte("x")})
	}
	v := f.c.Violations()
	if f.c.Count() != 2*MaxViolations || len(v) != MaxViolations+1 || v[MaxViolations] != "… and 20 more violations" {
		t.Fatalf("count %d, %d described, last %q", f.c.Count(), len(v), v[len(v)-1])
	}
}
