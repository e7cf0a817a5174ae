package stable_test

import (
	"math"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/stable"
)

// TestGossipHostile feeds gossip an attacker wrote: malformed vectors are
// refused, and so is a vector with any count beyond what this member could
// know, whole, so that none of it is believed.
func TestGossipHostile(t *testing.T) {
	for _, c := range []struct {
		name     string
		from     int
		body     []byte
		accepted bool
		maxSeen  uint64 // of member 1's stream afterwards
	}{
		{"origin's own count", 1, lt.Uv(3, 0, 5, 0), true, 5},
		{"origin's own count, huge", 1, lt.Uv(3, 0, math.MaxUint64, 0), false, 0},
		{"origin's own count, one past the window", 1, lt.Uv(3, 0, stable.DefaultMaxAhead+1, 0), false, 0},
		{"huge count beside an honest one", 1, lt.Uv(3, 0, 5, math.MaxUint64), false, 0},
		{"origin's own count, window edge", 1, lt.Uv(3, 0, stable.DefaultMaxAhead, 0), true, stable.DefaultMaxAhead},
		{"another's claim beyond the origin's", 2, lt.Uv(3, 0, 5, 0), true, 0},
		{"another's claim, huge", 2, lt.Uv(3, 0, math.MaxUint64, 0), false, 0},
		{"wrong member count", 2, lt.Uv(2, 0, 5), false, 0},
		{"trailing bytes", 2, lt.Uv(3, 0, 5, 0, 0), false, 0},
		{"truncated", 2, lt.Uv(3, 0), false, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 3, nil, compose.Options{})
			d := lt.Datagram(c.from, layers.ECastUnrel, []byte{1}, c.body)
			if got := m.Feed(d); got != c.accepted {
				t.Fatalf("accepted = %v", got)
			}
			s := m.S.Layer("stable").(*stable.Layer)
			if got := s.Stability().MaxSeen[1]; got != c.maxSeen {
				t.Fatalf("MaxSeen = %d, want %d", got, c.maxSeen)
			}
			m.CheckFootprint()
		})
	}
}
