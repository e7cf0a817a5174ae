package membership

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

func TestMembersFindEachOther(t *testing.T) {
	c := newCluster(t, 5, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	t.Logf("converged at %v: %v", c.now, c.members[0].view)
}

func TestMulticastInView(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	for i, m := range c.members {
		for k := range 10 {
			m.Cast([]byte(fmt.Sprintf("%d-%d", i, k)))
			c.drain(i)
		}
	}
	c.run(50 * time.Millisecond)
	for i := range c.members {
		got := 0
		for _, ev := range c.events[i] {
			if ev.Type == EventDeliver {
				got++
			}
		}
		if got != 30 {
			t.Errorf("member %d delivered %d of 30", i, got)
		}
	}
}

func TestCrashExcluded(t *testing.T) {
	for _, victim := range []int{0, 2} { // the coordinator, and another
		t.Run(fmt.Sprint(victim), func(t *testing.T) {
			c := newCluster(t, 4, transport.Faults{})
			c.runUntil(2*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
			before := c.members[1].view.ID
			c.crash(victim)
			rest := slices.DeleteFunc(all(4), func(i int) bool { return i == victim })
			c.runUntil(time.Second, "survivors agree", func() bool { return c.converged(rest...) && c.members[rest[0]].view.ID != before })
			if c.members[rest[0]].view.Has(c.members[victim].self) {
				t.Fatalf("crashed member still in %v", c.members[rest[0]].view)
			}
		})
	}
}

func TestLeave(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	c.members[0].Leave()
	c.drain(0)
	c.runUntil(time.Second, "the others agree without member 0", func() bool { return c.converged(1, 2) })
	if !c.members[0].left {
		t.Fatal("member 0 has not left")
	}
}

func TestPartitionHeals(t *testing.T) {
	c := newCluster(t, 4, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
	a := []netip.AddrPort{c.members[0].self.Addr, c.members[1].self.Addr}
	b := []netip.AddrPort{c.members[2].self.Addr, c.members[3].self.Addr}
	c.net.Partition(a, b)
	c.runUntil(2*time.Second, "two sides", func() bool { return c.converged(0, 1) && c.converged(2, 3) })
	c.net.Heal()
	c.runUntil(3*time.Second, "merged", func() bool { return c.converged(all(4)...) })
}

// TestCrashUnderLoad crashes a member while every member multicasts: the
// survivors must still flush (their flow control windows must not wait for
// the dead member) and agree, having delivered the same messages.
func TestCrashUnderLoad(t *testing.T) {
	c := newCluster(t, 5, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	for round := range 50 {
		for i, m := range c.members {
			if c.crashed[i] {
				continue
			}
			for k := range 200 {
				m.Cast([]byte(fmt.Sprintf("%d-%d-%d", i, round, k)))
			}
			c.drain(i)
		}
		if round == 5 {
			c.crash(4)
		}
		c.run(2 * time.Millisecond)
	}
	c.runUntil(2*time.Second, "survivors agree", func() bool { return c.converged(0, 1, 2, 3) })
}
