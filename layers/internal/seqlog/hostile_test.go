package seqlog

import (
	"math"
	"testing"
)

// TestPutHostileSeq feeds sequence numbers an attacker chooses to a log
// whose window is 64, after 10 messages were delivered and released up to
// 4: each is refused or stored exactly as stated, never panics, and never
// replaces a held message.
func TestPutHostileSeq(t *testing.T) {
	const window = 64
	fresh := func() *Log {
		var l Log
		for seq := range uint64(10) {
			l.Put(seq, msg("ok"), window)
			l.Pop()
		}
		l.Release(4)
		return &l
	}
	for _, c := range []struct {
		name string
		seq  uint64
		want Result
	}{
		{"max uint64", math.MaxUint64, Full},
		{"max uint64 minus low", math.MaxUint64 - 3, Full},
		{"window edge, last inside", 4 + window - 1, Stored},
		{"window edge, first outside", 4 + window, Full},
		{"far beyond", 1 << 40, Full},
		{"zero after delivery", 0, Duplicate},
		{"delivered, still held", 9, Duplicate},
		{"next", 10, Stored},
	} {
		t.Run(c.name, func(t *testing.T) {
			l := fresh()
			if got := l.Put(c.seq, msg("evil"), window); got != c.want {
				t.Fatalf("Put(%d) = %v, want %v", c.seq, got, c.want)
			}
			if len(l.ring) > window {
				t.Fatalf("ring grew to %d slots, window %d", len(l.ring), window)
			}
			if c.want != Stored && l.Known() != 10 {
				t.Fatalf("known moved to %d", l.Known())
			}
		})
	}
}

// TestPutNeverReplaces checks that a second message with the number of a
// held one, however it aliases in the ring, leaves the first in place.
func TestPutNeverReplaces(t *testing.T) {
	var l Log
	l.Put(5, msg("real"), 64)
	for _, seq := range []uint64{5, 5 + 16, 5 + 64, 5 + 1<<63} {
		l.Put(seq, msg("forged"), 64)
	}
	if m, ok := l.Get(5); !ok || string(m.Body) != "real" {
		t.Fatalf("slot 5 holds %q", m.Body)
	}
	// The same near the wrap of the sequence space.
	var w Log
	w.low, w.next, w.known = math.MaxUint64-8, math.MaxUint64-8, math.MaxUint64-8
	if w.Put(math.MaxUint64-4, msg("real"), 64) != Stored {
		t.Fatal("in-window message refused near the wrap")
	}
	for _, seq := range []uint64{math.MaxUint64, 3, 11, 59 /* wraps onto the held slot */} {
		if w.Put(seq, msg("forged"), 64) == Stored {
			t.Fatalf("seq %d stored", seq)
		}
	}
	if m, ok := w.Get(math.MaxUint64 - 4); !ok || string(m.Body) != "real" {
		t.Fatalf("message near the wrap replaced by %q", m.Body)
	}
}

// TestLearnBounded checks that a claim of how many messages exist stops at
// the window.
func TestLearnBounded(t *testing.T) {
	var l Log
	l.Put(0, msg("a"), 64)
	l.Pop()
	for _, known := range []uint64{math.MaxUint64, 1 << 40, 1000} {
		if l.Learn(known, 64) {
			t.Fatalf("Learn(%d) accepted", known)
		}
		if l.Known() != 64 {
			t.Fatalf("known = %d after Learn(%d)", l.Known(), known)
		}
	}
	if !l.Learn(30, 64) || l.Known() != 64 {
		t.Fatal("Learn below known moved it")
	}
	if got := l.Gaps(nil, 32, math.MaxUint64); len(got) != 1 || got[0] != (Run{1, 63}) {
		t.Fatalf("gaps = %v", got)
	}
}

// TestRingShrinksBack checks that a ring grown by a message at the window's
// edge returns to its smallest size once the stream has moved past it.
func TestRingShrinksBack(t *testing.T) {
	const window = 1 << 12
	var l Log
	l.Put(window-1, msg("edge"), window)
	if len(l.ring) != window {
		t.Fatalf("ring %d", len(l.ring))
	}
	for seq := range uint64(window) {
		l.Put(seq, msg("x"), window)
		for l.Deliverable() {
			l.Pop()
		}
	}
	l.Release(l.Next())
	l.Trim() // the ring was full since the last trim: kept
	if len(l.ring) != window {
		t.Fatalf("ring trimmed to %d while in use", len(l.ring))
	}
	l.Trim()
	if len(l.ring) != minRing || l.bytes != 0 {
		t.Fatalf("ring %d slots, %d bytes after release", len(l.ring), l.bytes)
	}
	if f, b := l.Footprint(), FootprintBound(window, 4); f > b || f != minRing*SlotSize {
		t.Fatalf("footprint %d (bound %d)", f, b)
	}
}
