package pt2pt

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
)

// TestPeersOnFirstUse: a view without point-to-point traffic keeps no
// state per peer, through ticks and the flush's questions, though its
// footprint bound counts every peer; the first send makes it, and the
// layer then works as ever.
func TestPeersOnFirstUse(t *testing.T) {
	l := New(Config{})
	s, err := layers.New(layers.Config{View: layers.View{Rank: 0, N: 16}}, l)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.Tick(time.Duration(i) * TrimInterval)
	}
	for r := range 16 {
		if l.Unacknowledged(r) {
			t.Fatalf("member %d unacknowledged before any send", r)
		}
	}
	if l.peers != nil || l.Footprint() != 0 || s.Backlog() != 0 {
		t.Fatalf("state for %d peers before any traffic", len(l.peers))
	}
	bound := l.FootprintBound()
	s.Send(3, []byte("hello"))
	if len(l.peers) != 16 || !l.Unacknowledged(3) || l.Unacknowledged(4) {
		t.Fatalf("after a send: %d peers, unacknowledged %v", len(l.peers), l.Unacknowledged(3))
	}
	if rd := s.Ready(); len(rd.Packets) != 1 || rd.Packets[0].To != 3 {
		t.Fatalf("sent %v", rd.Packets)
	}
	if b := l.FootprintBound(); bound <= 0 || b != bound {
		t.Fatalf("footprint bound %d before any traffic, %d after", bound, b)
	}
}
