package membership

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// TestThawedOriginDeliversWhatItHeld: a member that flushed for a round
// leaving an origin out holds that origin's later multicasts; when the
// Flush of a later round that keeps the origin comes (the first
// coordinator crashed, the next one asks), the member delivers what it
// held to the application, which then sees every one of the origin's
// messages, none skipped.
func TestThawedOriginDeliversWhatItHeld(t *testing.T) {
	c := newCluster(t, 4, transport.Faults{})
	c.runUntil(3*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
	v := c.members[0].view
	coord, next, x, y := c.index(v.Members[0].Addr), c.index(v.Members[1].Addr), c.index(v.Members[2].Addr), c.index(v.Members[3].Addr)
	// y hears nothing of the round that leaves it out, and casts on.
	c.drop = func(from, to netip.AddrPort, _ []byte) bool {
		return from == v.Members[0].Addr && to == v.Members[3].Addr
	}
	c.members[coord].Suspect(v.Members[3])
	c.drain(coord)
	c.runUntil(time.Second, "x flushed for a round without y", func() bool {
		p := c.members[x].part
		return p != nil && p.phase >= pFlushed && !p.proposal.Has(v.Members[3])
	})
	c.crash(coord)
	c.drop = nil
	c.members[y].Cast([]byte("held"))
	c.drain(y)
	got := func() bool {
		return slices.ContainsFunc(c.events[x], func(e Event) bool {
			return e.Kind == Message && e.From == v.Members[3] && string(e.Data) == "held"
		})
	}
	c.run(5 * time.Millisecond)
	if got() {
		t.Fatal("x delivered y's multicast while y was frozen")
	}
	if d := c.members[x].flush.Delivered(3); d != 0 {
		t.Fatalf("x's stack delivered %d of y's multicasts while y was frozen", d)
	}
	c.runUntil(3*time.Second, "the survivors' view", func() bool { return c.converged(next, x, y) })
	if !got() {
		t.Fatalf("x never handed the application y's multicast; its events: %v", c.events[x])
	}
}
