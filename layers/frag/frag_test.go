package frag_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/frag"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
)

var stack = []string{"bottom", "mnak", "pt2pt", "stable", "frag"}

// message is n bytes that differ from one message to another and along
// the message, so that a fragment out of place shows.
func message(n, seed int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i/251 + seed)
	}
	return b
}

// TestFragmentation multicasts and sends messages of sizes around the
// fragment size, and larger, and checks that each arrives whole, as one
// delivery, with fragments counted only for those that needed them, with
// and without loss.
func TestFragmentation(t *testing.T) {
	maxFrag := lt.NewNet(t, 2, stack, compose.Options{}).Members[0].Layer("frag").(*frag.Layer).MaxFragment()
	for _, lossy := range []bool{false, true} {
		for _, c := range []struct {
			size       int
			fragmented bool
		}{
			{0, false},
			{1, false},
			{maxFrag, false},
			{maxFrag + 1, true},
			{3*maxFrag + 7, true},
			{1 << 20, true},
		} {
			t.Run(fmt.Sprintf("%d bytes, lossy %v", c.size, lossy), func(t *testing.T) {
				nw := lt.NewNet(t, 3, stack, compose.Options{})
				if lossy {
					i := 0
					nw.Lose = func(from, to int, d []byte) bool { i++; return i%5 == 0 }
				}
				m, p := message(c.size, 1), message(c.size, 2)
				nw.CastBytes(0, m)
				nw.SendBytes(0, 2, p)
				nw.Run(2 * time.Second)
				for r := range 3 {
					got := nw.Casts(r)
					if len(got) != 1 || got[0] != "0:"+string(m) {
						t.Fatalf("member %d delivered %d casts (first %d bytes), want the one of %d bytes", r, len(got), firstLen(got), c.size)
					}
				}
				if got := nw.Sends(2); len(got) != 1 || got[0] != "0:"+string(p) {
					t.Fatalf("member 2 delivered %d sends (first %d bytes), want one of %d bytes", len(got), firstLen(got), c.size)
				}
				if f := nw.Counter(0, "frag", "fragmented"); (f == 2) != c.fragmented || f != 0 && f != 2 {
					t.Fatalf("%d messages fragmented, want both or none (%v)", f, c.fragmented)
				}
				if got := nw.Counter(2, "frag", "reassembled"); (got == 2) != c.fragmented {
					t.Fatalf("member 2 reassembled %d messages", got)
				}
			})
		}
	}
}

func firstLen(got []string) int {
	if len(got) == 0 {
		return 0
	}
	return len(got[0]) - 2
}

// TestInterleavedSenders: large messages from two senders at once are
// reassembled apart, per sender.
func TestInterleavedSenders(t *testing.T) {
	nw := lt.NewNet(t, 3, stack, compose.Options{})
	a, b := message(50_000, 3), message(70_000, 4)
	nw.CastBytes(0, a)
	nw.CastBytes(1, b)
	nw.CastBytes(0, []byte("after"))
	nw.Run(time.Second)
	got := nw.Casts(2)
	want := map[string]bool{"0:" + string(a): true, "1:" + string(b): true, "0:after": true}
	if len(got) != 3 {
		t.Fatalf("member 2 delivered %d messages, want 3", len(got))
	}
	for _, g := range got {
		if !want[g] {
			t.Fatalf("member 2 delivered a message of %d bytes that was never sent", len(g))
		}
	}
	if got[2] == "0:"+string(a) {
		t.Fatal("member 0's small message overtook its large one")
	}
}
