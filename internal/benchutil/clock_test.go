package benchutil

import (
	"testing"
	"time"
)

func TestClockFollowsWallClock(t *testing.T) {
	c := NewClock()
	for range 3 {
		got, want := c.Now(), time.Now().UnixNano()
		if d := got - want; d < -int64(time.Millisecond) || d > int64(time.Millisecond) {
			t.Fatalf("clock %d, wall clock %d", got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
