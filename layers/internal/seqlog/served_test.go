package seqlog

import (
	"testing"
	"time"
)

// TestServed checks the retransmission limits per requester: a message at
// most once per interval, a budget of messages per interval, and a bound on
// the asks it will even look at.
func TestServed(t *testing.T) {
	const interval, budget = 4 * time.Millisecond, 8
	type ask struct {
		at     time.Duration
		origin int
		seq    uint64
		want   Verdict
	}
	for _, c := range []struct {
		name string
		asks []ask
	}{
		{"repeat in the interval", []ask{{0, 0, 5, Allowed}, {1, 0, 5, Repeated}, {3, 0, 5, Repeated}}},
		{"repeat in the next interval", []ask{{0, 0, 5, Allowed}, {interval, 0, 5, Allowed}}},
		{"same number, other origin", []ask{{0, 0, 5, Allowed}, {0, 1, 5, Allowed}}},
		{"budget", []ask{
			{0, 0, 0, Allowed}, {0, 0, 1, Allowed}, {0, 0, 2, Allowed}, {0, 0, 3, Allowed},
			{0, 0, 4, Allowed}, {0, 0, 5, Allowed}, {0, 0, 6, Allowed}, {0, 0, 7, Allowed},
			{0, 0, 8, OverBudget}, {interval, 0, 8, Allowed},
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var s Served
			for i, a := range c.asks {
				if got := s.Allow(a.at, interval, budget, a.origin, a.seq); got != a.want {
					t.Fatalf("ask %d (%d:%d at %v) = %v, want %v", i, a.origin, a.seq, a.at, got, a.want)
				}
			}
		})
	}
}

// TestServedBoundsWork checks that past 4×budget asks in an interval every
// ask is refused, even one for a message not yet sent, and that the runs
// remembered stay within MaxServedRuns whatever the pattern.
func TestServedBoundsWork(t *testing.T) {
	var s Served
	const budget = 512
	for seq := uint64(0); seq < 4*budget; seq++ {
		s.Allow(0, time.Second, budget, 0, 2*seq) // every other number: one run each
	}
	if len(s.runs) > MaxServedRuns || s.Footprint() > ServedSize {
		t.Fatalf("%d runs, %d bytes", len(s.runs), s.Footprint())
	}
	if got := s.Allow(0, time.Second, budget, 1, 0); got != OverBudget {
		t.Fatalf("ask past the bound: %v", got)
	}
}
