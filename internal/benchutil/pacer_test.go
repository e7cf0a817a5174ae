package benchutil

import (
	"context"
	"testing"
	"time"
)

// TestPacerHoldsThePace checks only a lower bound: the loop may be slower
// than its pace on a busy machine, never faster.
func TestPacerHoldsThePace(t *testing.T) {
	const n, interval = 400, 50 * time.Microsecond
	p := Pacer{Interval: interval}
	start := time.Now()
	for range n {
		if err := p.Wait(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	// A pass may run up to MinSleep ahead of its due time.
	if el := time.Since(start); el < n*interval-MinSleep {
		t.Errorf("%d passes in %v, want at least %v", n, el, n*interval-MinSleep)
	}
}

func TestPacerStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	p := Pacer{Interval: time.Hour}
	if err := p.Wait(ctx); err == nil {
		t.Error("no error after cancel")
	}
}
