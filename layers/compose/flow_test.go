package compose_test

import (
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
)

// TestSlowReceiverBoundsMemory floods the group from one sender while one
// member loses most of its datagrams, and checks that no member ever holds
// more than the flow control window of that sender's messages: the excess
// waits at the sender, visible as backlog, and everything still arrives.
// The sender holds at most the window; a receiver holds at most the window
// plus however far its knowledge of stability lags, and never more than
// mnak's hard limit.
func TestSlowReceiverBoundsMemory(t *testing.T) {
	g := newGroup(t, 3)
	rng := rand.New(rand.NewPCG(5, 6))
	g.lose = func(from, to int) bool { return to == 2 && rng.IntN(10) < 8 }
	const total = 20_000
	for i := range total {
		g.stacks[0].Cast([]byte{byte(i), byte(i >> 8)})
	}
	if b := g.stacks[0].Backlog(); b != total-mflow.DefaultWindow {
		t.Fatalf("backlog %d, want %d beyond the window", b, total-mflow.DefaultWindow)
	}
	var senderHeld, receiverHeld uint64
	for round := 0; round < 5000 && len(g.got[2]) < total; round++ {
		g.run(1)
		for r, s := range g.stacks {
			low, _, known := s.Layer("mnak").(*mnak.Layer).Progress(0)
			if r == 0 {
				senderHeld = max(senderHeld, known-low)
			} else {
				receiverHeld = max(receiverHeld, known-low)
			}
		}
	}
	for r := range 3 {
		if len(g.got[r]) != total {
			t.Fatalf("member %d delivered %d of %d", r, len(g.got[r]), total)
		}
	}
	if senderHeld > mflow.DefaultWindow {
		t.Fatalf("the sender held %d messages, more than the window of %d", senderHeld, mflow.DefaultWindow)
	}
	if receiverHeld > mnak.DefaultMaxHeld {
		t.Fatalf("a receiver held %d messages, more than mnak's limit of %d", receiverHeld, mnak.DefaultMaxHeld)
	}
	if g.stacks[0].Backlog() != 0 {
		t.Fatalf("backlog %d left", g.stacks[0].Backlog())
	}
	t.Logf("held at most %d at the sender, %d at a receiver; slow member counters %v", senderHeld, receiverHeld, g.stacks[2].Counters())
}
