package frag_test

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/frag"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
)

// fragment is multicast seq from member 1 carrying a fragment header.
func fragment(seq uint64, header []byte, body string) []byte {
	return lt.Datagram(1, layers.ECast, lt.Uv(seq), header, []byte(body))
}

// TestFirstFragmentClaims checks that a first fragment's claimed total
// reserves nothing and that a claim over MaxMessage is refused.
func TestFirstFragmentClaims(t *testing.T) {
	for _, c := range []struct {
		name     string
		total    uint64
		accepted bool
	}{
		{"64 MiB", 64 << 20, true},
		{"over MaxMessage", 64<<20 + 1, false},
		{"not more than the fragment", 3, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 2, nil, compose.Options{})
			f := m.S.Layer("frag").(*frag.Layer)
			if got := m.Feed(fragment(0, append([]byte{1}, lt.Uv(c.total)...), "abc")); got != c.accepted {
				t.Fatalf("accepted = %v", got)
			}
			if f.Footprint() > 3 {
				t.Fatalf("first fragment of 3 bytes holds %d", f.Footprint())
			}
			m.CheckFootprint()
		})
	}
}

// TestReassemblyTimeout checks that a reassembly that stops halfway is
// abandoned after the timeout and its memory freed.
func TestReassemblyTimeout(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{Frag: frag.Config{Timeout: time.Second}})
	f := m.S.Layer("frag").(*frag.Layer)
	m.Feed(fragment(0, append([]byte{1}, lt.Uv(10000)...), "abc"))
	m.Feed(fragment(1, []byte{2}, "def"))
	m.Tick(999 * time.Millisecond)
	if f.Footprint() == 0 {
		t.Fatal("reassembly abandoned early")
	}
	m.Tick(time.Millisecond)
	if f.Footprint() != 0 || m.S.Counter("frag", "reassembly_timeouts") != 1 {
		t.Fatalf("after the timeout: %d bytes held", f.Footprint())
	}
	if m.Feed(fragment(2, []byte{2}, "ghi")) {
		t.Fatal("a fragment after the timeout was accepted")
	}
}

// TestReassemblyGrowsWithData checks that the buffer never exceeds the
// claimed total, and that a fragment beyond it is refused.
func TestReassemblyGrowsWithData(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	f := m.S.Layer("frag").(*frag.Layer)
	m.Feed(fragment(0, append([]byte{1}, lt.Uv(7)...), "abcd"))
	if f.Footprint() > 7 {
		t.Fatalf("holds %d for a 7-byte message", f.Footprint())
	}
	if m.Feed(fragment(1, []byte{2}, "efgh")) {
		t.Fatal("fragment beyond the total accepted")
	}
}
