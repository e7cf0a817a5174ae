package seqlog

import (
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
