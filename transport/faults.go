package transport

import (
	"math/rand/v2"
	"time"
)

// Faults describes how a Network mistreats datagrams. The zero value is a
// perfect network: nothing lost, nothing duplicated, everything delivered
// at once and in order. A reordered datagram is held back an extra delay
// uniform in [1ns, max(Delay, 1ms)], so Reorder works without Delay too.
type Faults struct {
	Loss      float64       // probability a datagram is dropped
	Duplicate float64       // probability a datagram is delivered twice
	Reorder   float64       // probability a datagram gets an extra random delay so later ones overtake it
	Delay     time.Duration // base one-way delay; each datagram gets a delay uniformly in [0, Delay] (plus Reorder's extra)
}

// minReorderWindow is the hold-back window for reordered datagrams on a
// network with less Delay, so that Reorder still reorders there.
const minReorderWindow = time.Millisecond

// normalized clamps probabilities into [0, 1] and the delay to at least 0,
// so that sampling never has to care.
func (f Faults) normalized() Faults {
	clamp := func(p float64) float64 {
		if !(p > 0) { // also catches NaN
			return 0
		}
		return min(p, 1)
	}
	f.Loss = clamp(f.Loss)
	f.Duplicate = clamp(f.Duplicate)
	f.Reorder = clamp(f.Reorder)
	f.Delay = max(f.Delay, 0)
	return f
}

// The sampling methods draw from rng only for faults that are switched on,
// so a perfect network consumes no randomness at all.

func (f Faults) lose(rng *rand.Rand) bool {
	return f.Loss > 0 && rng.Float64() < f.Loss
}

func (f Faults) duplicate(rng *rand.Rand) bool {
	return f.Duplicate > 0 && rng.Float64() < f.Duplicate
}

// delay draws the one-way delay of one copy of a datagram and whether it was
// held back to be overtaken.
func (f Faults) delay(rng *rand.Rand) (d time.Duration, reordered bool) {
	if f.Delay > 0 {
		d = time.Duration(rng.Int64N(int64(f.Delay) + 1))
	}
	if f.Reorder > 0 && rng.Float64() < f.Reorder {
		window := max(f.Delay, minReorderWindow)
		d += 1 + time.Duration(rng.Int64N(int64(window)))
		reordered = true
	}
	return d, reordered
}
