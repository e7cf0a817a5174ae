package mflow_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
)

var stack = []string{"bottom", "mnak", "stable", "mflow"}

// TestFlowControl: a sender has at most Window multicasts (and WindowBytes
// bytes) not yet stable; the rest wait as backlog and go as stability
// comes back. A message larger than the byte window still goes, alone.
func TestFlowControl(t *testing.T) {
	for _, c := range []struct {
		name    string
		cfg     mflow.Config
		sizes   []int // bytes of each multicast
		backlog int   // right after casting
	}{
		{"within the window", mflow.Config{Window: 4}, []int{1, 1, 1, 1}, 0},
		{"over the message window", mflow.Config{Window: 4}, []int{1, 1, 1, 1, 1, 1, 1}, 3},
		{"over the byte window", mflow.Config{Window: 100, WindowBytes: 100}, []int{40, 40, 40, 40}, 2},
		{"one message over the byte window", mflow.Config{Window: 100, WindowBytes: 100}, []int{300, 1}, 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := lt.NewNet(t, 3, stack, compose.Options{Mflow: c.cfg, Mnak: mnak.Config{MaxHeld: 1024}})
			for i, n := range c.sizes {
				nw.Cast(0, strings.Repeat(string(rune('a'+i)), n))
			}
			if b := nw.Members[0].Backlog(); b != c.backlog {
				t.Fatalf("backlog %d, want %d", b, c.backlog)
			}
			nw.Run(100 * time.Millisecond)
			if b := nw.Members[0].Backlog(); b != 0 {
				t.Fatalf("backlog %d once stability came back", b)
			}
			for r := range 3 {
				if got := nw.Casts(r); len(got) != len(c.sizes) {
					t.Fatalf("member %d delivered %d of %d", r, len(got), len(c.sizes))
				}
			}
		})
	}
}

// TestBlockedUntilEveryoneHasIt: the window reopens only when every member
// has the messages, so a member that receives nothing keeps the sender
// blocked; when the network heals, everything flows.
func TestBlockedUntilEveryoneHasIt(t *testing.T) {
	nw := lt.NewNet(t, 3, stack, compose.Options{Mflow: mflow.Config{Window: 4}, Mnak: mnak.Config{MaxHeld: 1024}})
	nw.Lose = lt.LoseAll(0, 2, "")
	nw.Cast(0, "1", "2", "3", "4", "5", "6")
	nw.Run(100 * time.Millisecond)
	if b := nw.Members[0].Backlog(); b != 2 {
		t.Fatalf("backlog %d while member 2 hears nothing, want 2", b)
	}
	if got := nw.Casts(1); len(got) != 4 {
		t.Fatalf("member 1 delivered %d, want the window's 4", len(got))
	}
	nw.Lose = nil
	nw.Run(100 * time.Millisecond)
	if b := nw.Members[0].Backlog(); b != 0 || len(nw.Casts(2)) != 6 {
		t.Fatalf("after healing: backlog %d, member 2 delivered %d of 6", b, len(nw.Casts(2)))
	}
}
