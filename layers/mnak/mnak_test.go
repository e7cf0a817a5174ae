package mnak_test

import (
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mnak"
)

// TestMulticast runs member 0's multicasts to a group of three through
// the losses each case names, and checks that every member delivers all of
// them, in order, having asked for what it missed and been answered.
func TestMulticast(t *testing.T) {
	for _, c := range []struct {
		name string
		// layers: mnak alone finds a gap when a later message arrives;
		// a loss at the tail of the stream needs stability's MaxSeen.
		layers []string
		lose   func(from, to int, data []byte) bool
		// naks is whether member 2 must have asked for a message again.
		naks bool
	}{
		{"no loss", []string{"bottom", "mnak"}, nil, false},
		{"one lost, the next reveals the gap", []string{"bottom", "mnak"}, lt.LoseOnce(0, 2, "m2"), true},
		{"a run lost", []string{"bottom", "mnak"}, func() func(int, int, []byte) bool {
			m2, m3 := lt.LoseOnce(0, 2, "m2"), lt.LoseOnce(0, 2, "m3")
			return func(from, to int, d []byte) bool { return m2(from, to, d) || m3(from, to, d) }
		}(), true},
		{"the last lost, stability reveals it", []string{"bottom", "mnak", "stable"}, lt.LoseOnce(0, 2, "m5"), true},
		{"the first NAK lost too", []string{"bottom", "mnak"}, func() func(int, int, []byte) bool {
			data, nak := lt.LoseOnce(0, 2, "m2"), 0
			return func(from, to int, d []byte) bool {
				if from == 2 && to == 0 && nak == 0 {
					nak++
					return true // member 2's first NAK
				}
				return data(from, to, d)
			}
		}(), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := lt.NewNet(t, 3, c.layers, compose.Options{})
			nw.Lose = c.lose
			nw.Cast(0, "m1", "m2", "m3", "m4", "m5")
			nw.Run(200 * time.Millisecond)
			want := []string{"0:m1", "0:m2", "0:m3", "0:m4", "0:m5"}
			for r := range 3 {
				if got := nw.Casts(r); !slices.Equal(got, want) {
					t.Errorf("member %d delivered %v, want %v", r, got, want)
				}
			}
			naks, retrans := nw.Counter(2, "mnak", "naks_sent"), nw.Counter(0, "mnak", "retransmitted")
			if c.naks != (naks > 0) || c.naks != (retrans > 0) {
				t.Errorf("member 2 sent %d NAKs, member 0 retransmitted %d; want some: %v", naks, retrans, c.naks)
			}
			if nw.Counter(1, "mnak", "naks_sent") != 0 {
				t.Error("member 1, which lost nothing, sent a NAK")
			}
		})
	}
}

// TestMulticastsFromEveryMemberInterleave: each member's stream is FIFO on
// its own, whatever the interleaving on the wire.
func TestMulticastsFromEveryMemberInterleave(t *testing.T) {
	nw := lt.NewNet(t, 3, []string{"bottom", "mnak", "stable"}, compose.Options{})
	nw.Lose = func(from, to int, data []byte) bool { return len(data)%3 == 0 && from != to }
	for i := range 20 {
		nw.Cast(i%3, string(rune('a'+i)))
	}
	nw.Run(300 * time.Millisecond)
	for r := range 3 {
		got := nw.Casts(r)
		if len(got) != 20 {
			t.Fatalf("member %d delivered %d of 20: %v", r, len(got), got)
		}
		for origin := range 3 {
			var stream []string
			for _, d := range got {
				if int(d[0]-'0') == origin {
					stream = append(stream, d)
				}
			}
			for i := 1; i < len(stream); i++ {
				if stream[i] < stream[i-1] {
					t.Fatalf("member %d delivered origin %d out of order: %v", r, origin, stream)
				}
			}
		}
	}
}

// TestReceiveWindow: messages beyond a receiver's window (MaxHeld past the
// lowest it holds) are refused while the gap is open, and asked for again
// once it has closed (the receiver learns they exist from stability).
func TestReceiveWindow(t *testing.T) {
	nw := lt.NewNet(t, 2, []string{"bottom", "mnak", "stable"}, compose.Options{Mnak: mnak.Config{MaxHeld: 4}})
	nw.Lose = lt.LoseOnce(0, 1, "m1")
	nw.Cast(0, "m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8")
	nw.Run(time.Millisecond)
	if got := nw.Casts(1); len(got) != 0 {
		t.Fatalf("delivered %v before the first message arrived", got)
	}
	if nw.Counter(1, "mnak", "drop.window") == 0 {
		t.Fatal("messages beyond the window were not refused")
	}
	nw.Run(100 * time.Millisecond)
	if got := nw.Casts(1); len(got) != 8 || got[7] != "0:m8" {
		t.Fatalf("delivered %v, want m1 … m8", got)
	}
}
