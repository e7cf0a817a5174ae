package stable_test

import (
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/stable"
)

var stack = []string{"bottom", "mnak", "stable"}

func stability(nw *lt.Net, r int) (st, seen []uint64) {
	s := nw.Members[r].Layer("stable").(*stable.Layer).Stability()
	return slices.Clone(s.Stable), slices.Clone(s.MaxSeen)
}

// TestStability: once every member has delivered a multicast it is stable
// everywhere; a member that misses some holds stability back, though every
// member learns how many exist (MaxSeen); leaving it out (a view change
// removing it) makes them stable.
func TestStability(t *testing.T) {
	for _, c := range []struct {
		name         string
		lose         func(from, to int, data []byte) bool
		ignore       bool // leave member 2 out of the computation
		stable, seen []uint64
	}{
		{"no loss", nil, false, []uint64{3, 2, 0}, []uint64{3, 2, 0}},
		{"member 2 hears nothing from 0", lt.LoseAll(0, 2, ""), false, []uint64{0, 2, 0}, []uint64{3, 2, 0}},
		{"member 2 left out", lt.LoseAll(0, 2, ""), true, []uint64{3, 2, 0}, []uint64{3, 2, 0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := lt.NewNet(t, 3, stack, compose.Options{})
			nw.Lose = c.lose
			if c.ignore {
				for r := range 2 {
					nw.Members[r].Layer("stable").(*stable.Layer).Ignore(2, true)
				}
			}
			nw.Cast(0, "a", "b", "c")
			nw.Cast(1, "x", "y")
			nw.Run(100 * time.Millisecond)
			for r := range 2 {
				st, seen := stability(nw, r)
				if !slices.Equal(st, c.stable) || !slices.Equal(seen, c.seen) {
					t.Errorf("member %d: stable %v, max seen %v; want %v, %v", r, st, seen, c.stable, c.seen)
				}
			}
		})
	}
}

// TestGossipTiming: an idle member gossips every Idle (a heartbeat); a
// member that has delivered something gossips within Interval, and at once
// after AckEvery deliveries.
func TestGossipTiming(t *testing.T) {
	gossips := func(nw *lt.Net) uint64 { return nw.Counter(1, "stable", "gossips") }

	idle := lt.NewNet(t, 2, stack, compose.Options{})
	idle.Run(500 * time.Millisecond)
	if g, want := gossips(idle), uint64(500*time.Millisecond/stable.DefaultIdle); g != want {
		t.Errorf("idle for 500 ms: %d gossips, want one per Idle, %d", g, want)
	}

	slow := compose.Options{Stable: stable.Config{Interval: time.Second, Idle: time.Hour, AckEvery: 4}}
	nw := lt.NewNet(t, 2, stack, slow)
	nw.Run(2 * time.Millisecond) // the first tick's heartbeat
	before := gossips(nw)
	nw.Cast(0, "1", "2", "3")
	nw.Run(5 * time.Millisecond)
	if g := gossips(nw); g != before {
		t.Fatalf("gossiped after 3 deliveries of AckEvery 4, within Interval")
	}
	nw.Cast(0, "4")
	nw.Run(2 * time.Millisecond)
	if g := gossips(nw); g != before+1 {
		t.Fatalf("%d gossips after the 4th delivery, want 1", g-before)
	}
	nw.Cast(0, "5")
	nw.Run(time.Second)
	if g := gossips(nw); g != before+2 {
		t.Fatalf("%d gossips a second after the 5th delivery, want the one Interval brings", g-before-1)
	}
}
