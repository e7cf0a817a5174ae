package sim

import (
	"bytes"
	"slices"
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// TestCheckerReportsForgedMulticast: with sender authentication, a
// multicast delivered that its claimed sender did not multicast at that
// index, with those bytes, is a forgery, counted; without, it is reported
// as before, not counted.
func TestCheckerReportsForgedMulticast(t *testing.T) {
	for _, auth := range []bool{false, true} {
		f := newCheckerFixture(t, 3)
		if auth {
			f.c.SenderAuth()
		}
		id := f.cast(0)
		f.deliver(1, id)
		altered := bytes.Clone(f.ps[id])
		altered[len(altered)-1] ^= 1
		f.c.Event(2, &membership.Event{Kind: membership.Message, From: f.es[0], Multicast: true, Data: altered})
		other := f.cast(1)
		f.c.Event(2, &membership.Event{Kind: membership.Message, From: f.es[0], Multicast: true, Data: f.ps[other]})
		v := f.c.Violations()
		if f.c.Count() != 2 || len(v) != 2 {
			t.Fatalf("auth %v: violations %q, want 2", auth, v)
		}
		want, forged := "member 2: delivered cast 0 #0 with altered bytes", 0
		if auth {
			want, forged = "sender authentication: "+want, 2
		}
		if v[0][:len(want)] != want {
			t.Errorf("auth %v: violation %q, want %q", auth, v[0], want)
		}
		if f.c.Forged() != forged {
			t.Errorf("auth %v: Forged %d, want %d", auth, f.c.Forged(), forged)
		}
	}
}

// TestCheckerReportsLossAtTarget: with sender authentication, a member
// that misses a multicast its view's other members delivered is reported
// (the gap, the message undelivered, virtual synchrony), whatever an
// insider did to its stream: the sign layer refuses a forgery that took a
// message's place, and the real one is fetched again.
func TestCheckerReportsLossAtTarget(t *testing.T) {
	f := newCheckerFixture(t, 4)
	f.c.SenderAuth()
	a, b, c := f.cast(0), f.cast(0), f.cast(0)
	f.c.Expect(b, 1)
	f.c.Expect(b, 2)
	f.deliverTo(a, 1, 2, 3)
	f.deliverTo(b, 2, 3)
	f.deliver(1, c)
	f.deliverTo(c, 2, 3)
	f.change(f.view(2, 0, all(4)...), all(4)...)
	if f.c.Complete() {
		t.Fatal("complete with a delivery missing")
	}
	f.c.Finish(nil)
	want := []string{
		"member 1: 1 of 1 casts from 0 undelivered at the deadline, first cast 0 #1",
		"member 1: delivered cast 0 #2 before #1 (FIFO gap in view 1@m0 [m0 m1 m2 m3])",
	}
	v := f.c.Violations()
	for _, w := range want {
		if !slices.Contains(v, w) {
			t.Errorf("no violation %q in %q", w, v)
		}
	}
	if len(v) < 3 {
		t.Errorf("%q, want virtual synchrony reported too", v)
	}
}
