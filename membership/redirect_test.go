package membership

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// Lone members that start at once each wait to be absorbed by another's
// view, and hear from every view that would absorb theirs (the smallest
// coordinator's is absorbed by all). A member waiting for one view turns
// to another only when that one ranks above the one it waits for, so it
// climbs the coordinators' order, turning at most once per other member:
// following every view that answers made it ask several coordinators in
// turn, each of which started a round it had left and waited Timing.Flush
// for it.
func TestMergeRedirectsClimb(t *testing.T) {
	for _, n := range []int{5, 8, 12} {
		c := newCluster(t, n, transport.Faults{})
		c.runUntil(5*time.Second, "forming", func() bool { return c.converged(all(n)...) })
		for i, m := range c.members {
			if r := m.counters["merges_redirected"]; r > uint64(n-1) {
				t.Errorf("%d members: member %d redirected its merge %d times", n, i, r)
			}
		}
	}
}
