package bench

import (
	"context"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
)

// window is the timing of a phase at a member, in Unix nanoseconds
// read from the member's clock: the phase starts at start and counts what
// happens from from to end.
type window struct {
	clock            benchutil.Clock
	start, from, end int64
}

func (m *member) window(start int64) window {
	return window{
		clock: benchutil.NewClock(),
		start: start,
		from:  start + int64(warmup(m.Duration)),
		end:   start + int64(m.Duration),
	}
}

// counts says whether t is within the counting window.
func (w *window) counts(t int64) bool { return t >= w.from && t < w.end }

func (w *window) seconds() float64 { return time.Duration(w.end - w.from).Seconds() }

// sleepUntil waits for the time t, or until ctx ends.
func (w *window) sleepUntil(ctx context.Context, t int64) error {
	d := time.Duration(t - w.clock.Now())
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
