package seqlog

import (
	"math"
	"slices"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

func msg(s string) *layers.Message { m := layers.NewMessage([]byte(s)); return &m }

func TestPutDeliverRelease(t *testing.T) {
	var l Log
	if l.Put(2, msg("c"), 0) != Stored || l.Put(0, msg("a"), 0) != Stored {
		t.Fatal("put")
	}
	if l.Put(2, msg("c"), 0) != Duplicate {
		t.Fatal("duplicate not seen")
	}
	if got := l.Gaps(nil, 8, 100); !slices.Equal(got, []Run{{1, 1}}) {
		t.Fatalf("gaps = %v", got)
	}
	var out []string
	for l.Deliverable() {
		m := l.Pop()
		out = append(out, string(m.Body))
	}
	if !slices.Equal(out, []string{"a"}) || l.Next() != 1 || !l.Missing() {
		t.Fatalf("delivered %v next %d", out, l.Next())
	}
	l.Put(1, msg("b"), 0)
	for l.Deliverable() {
		m := l.Pop()
		out = append(out, string(m.Body))
	}
	if !slices.Equal(out, []string{"a", "b", "c"}) || l.Missing() {
		t.Fatalf("delivered %v", out)
	}
	if l.Put(0, msg("a"), 0) != Duplicate {
		t.Fatal("delivered message accepted again")
	}
	l.Release(10) // clamps to Next
	if l.Low() != 3 {
		t.Fatalf("low = %d", l.Low())
	}
	if _, ok := l.Get(1); ok {
		t.Fatal("released message still held")
	}
	if l.Put(3+100, msg("far"), 64) != Full {
		t.Fatal("limit not enforced")
	}
}

func TestGrowKeepsMessages(t *testing.T) {
	var l Log
	for seq := uint64(0); seq < 1000; seq += 2 {
		l.Put(seq, msg(string(rune('a'+seq%26))), 0)
	}
	for seq := uint64(0); seq < 1000; seq += 2 {
		m, ok := l.Get(seq)
		if !ok || string(m.Body) != string(rune('a'+seq%26)) {
			t.Fatalf("seq %d lost after growth", seq)
		}
	}
	if got := l.Gaps(nil, 3, 100); !slices.Equal(got, []Run{{1, 1}, {3, 1}, {5, 1}}) {
		t.Fatalf("gaps = %v", got)
	}
}

// FuzzParseRuns checks that accepted runs re-encode to the same bytes and
// respect the bounds.
func FuzzParseRuns(f *testing.F) {
	f.Add(AppendRuns(nil, []Run{{1, 2}, {5, 1}}))
	f.Add(AppendRuns(nil, []Run{{0, 256}}))
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := wire.NewReader(b)
		runs, ok := ParseRuns(&r, nil, 32, 256)
		if !ok {
			return
		}
		var total uint64
		for _, run := range runs {
			total += run.Count
		}
		if total > 256 || len(runs) > 32 || len(runs) == 0 {
			t.Fatalf("bounds not enforced: %v", runs)
		}
		if enc := AppendRuns(nil, runs); string(enc) != string(b) {
			t.Fatalf("%x re-encodes as %x", b, enc)
		}
	})
}

// TestLearnBeyondRing checks that knowing of messages beyond the ring's span
// never makes an old slot pass for a newer sequence number.
func TestLearnBeyondRing(t *testing.T) {
	var l Log
	for seq := range uint64(16) {
		l.Put(seq, msg(string(rune('a'+seq))), 0)
		l.Pop()
	}
	l.Learn(17, 0)
	if l.Deliverable() {
		t.Fatal("sequence 16 looks deliverable though it never arrived")
	}
	if got := l.Gaps(nil, 8, 100); !slices.Equal(got, []Run{{16, 1}}) {
		t.Fatalf("gaps = %v, want [16]", got)
	}
	l.Put(16, msg("q"), 0)
	if m := l.Pop(); string(m.Body) != "q" {
		t.Fatalf("delivered %q for 16", m.Body)
	}
	for seq := range uint64(16) {
		if m, ok := l.Get(seq); !ok || string(m.Body) != string(rune('a'+seq)) {
			t.Fatalf("seq %d lost or altered after growth", seq)
		}
	}
}

// TestForget checks that a refusal from above discards the messages from
// the refused one on, delivered or held, sets Next back so that they are
// missing again, and that a refusal of what the log did not deliver, or no
// longer holds, changes nothing.
func TestForget(t *testing.T) {
	fill := func() *Log {
		var l Log
		for seq := range uint64(6) {
			l.Put(seq, msg("m"), 64)
		}
		l.Put(8, msg("late"), 64)
		for range 4 {
			l.Pop()
		}
		l.Release(2)
		return &l
	}
	l := fill()
	for _, from := range []uint64{0, 1, 4, 5, 8, 1 << 40} {
		if l.Forget(from) {
			t.Fatalf("Forget(%d) accepted: low %d, next %d", from, l.Low(), l.Next())
		}
	}
	if l.Next() != 4 || l.bytes != 4+4 {
		t.Fatalf("a refused Forget moved next to %d, bytes to %d", l.Next(), l.bytes)
	}
	if !l.Forget(3) {
		t.Fatal("Forget(3) refused")
	}
	if l.Next() != 3 || l.Known() != 9 || !l.Missing() || l.Deliverable() {
		t.Fatalf("after Forget(3): next %d, known %d", l.Next(), l.Known())
	}
	if _, ok := l.Get(2); !ok {
		t.Fatal("message 2, below the refusal, forgotten")
	}
	for _, seq := range []uint64{3, 4, 5, 8} {
		if _, ok := l.Get(seq); ok {
			t.Fatalf("message %d kept", seq)
		}
	}
	if l.bytes != 1 {
		t.Fatalf("%d bytes counted, want 1", l.bytes)
	}
	if got := l.Gaps(nil, 32, 100); len(got) != 1 || got[0] != (Run{3, 6}) {
		t.Fatalf("gaps %v", got)
	}
	// The real copies come again and are delivered.
	for _, seq := range []uint64{3, 4, 5, 6, 7, 8} {
		if l.Put(seq, msg("real"), 64) != Stored {
			t.Fatalf("real %d not stored", seq)
		}
	}
	for seq := uint64(3); seq < 9; seq++ {
		if !l.Deliverable() || string(l.Pop().Body) != "real" {
			t.Fatalf("real %d not delivered", seq)
		}
	}
	// Near the wrap of the sequence space.
	var w Log
	w.low, w.next, w.known = math.MaxUint64-8, math.MaxUint64-8, math.MaxUint64-8
	w.Put(math.MaxUint64-8, msg("a"), 64)
	w.Put(math.MaxUint64-7, msg("b"), 64)
	w.Pop()
	w.Pop()
	if !w.Forget(math.MaxUint64-7) || w.Next() != math.MaxUint64-7 || w.bytes != 1 {
		t.Fatalf("forget near the wrap: next %d, bytes %d", w.Next(), w.bytes)
	}
}
