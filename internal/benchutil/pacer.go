package benchutil

import (
	"context"
	"time"
)

// MinSleep is the shortest sleep a Pacer asks for. Many systems' timers
// round shorter sleeps up to a millisecond or more, so a loop that slept
// 50µs per pass would run at a twentieth of the intended pace.
const MinSleep = time.Millisecond

// Pacer holds a loop to at most one pass per Interval on average, as if
// every pass took Interval: it counts the time each pass owes and sleeps
// it off whenever the debt reaches MinSleep. A pass that waited for input
// earns no more than MinSleep of credit, so an idle spell is not followed
// by a burst. The zero value of everything but Interval is ready to use;
// it is not safe for concurrent use.
type Pacer struct {
	Interval time.Duration
	due      time.Time // when the passes so far are paid for
}

// Wait accounts for one pass and sleeps if the loop is ahead of its pace.
// It returns early, with the reason, when ctx ends.
func (p *Pacer) Wait(ctx context.Context) error {
	now := time.Now()
	if p.due.IsZero() {
		p.due = now
	}
	if floor := now.Add(-MinSleep); p.due.Before(floor) {
		p.due = floor
	}
	p.due = p.due.Add(p.Interval)
	d := p.due.Sub(now)
	if d < MinSleep {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
