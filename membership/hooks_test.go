package membership

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// TestJoinFloodAndDyingJoiner has many processes try to join at once, one
// of which dies in the middle of joining: the group must take in the live
// ones, stay free of the dead one, and keep no state about it.
func TestJoinFloodAndDyingJoiner(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(0, 1, 2) })
	for range 20 {
		c.add()
	}
	// The last joiner dies as soon as it has asked to be merged in.
	dying := len(c.members) - 1
	c.runUntil(time.Second, "the dying joiner asks to join", func() bool {
		return c.members[dying].counters["sent.MergeReq"] > 0
	})
	c.crash(dying)
	live := all(dying)
	c.runUntil(5*time.Second, "every live process in one view", func() bool { return c.converged(live...) })
	v := c.members[0].view
	if v.Has(c.members[dying].self) {
		t.Fatalf("the dead joiner is in %v", v)
	}
	c.run(time.Second) // let any request left behind expire
	coord := c.memberFor(v.Coordinator())
	if len(coord.merges) != 0 || coord.coord != nil {
		t.Fatalf("coordinator still holds %d merge requests, round %v", len(coord.merges), coord.coord)
	}
	if !c.converged(live...) {
		t.Fatalf("the group moved on: %s", c.describe())
	}
}
