package membership

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// TestFragmentsReassembledWithinBounds cuts a control message into pieces
// and checks what a member does with them: a stranger's are dropped, a
// piece that disagrees with its message is dropped, a message left
// unfinished is forgotten after Timing.Flush, and a whole one is handled.
func TestFragmentsReassembledWithinBounds(t *testing.T) {
	c := newCluster(t, 2, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 2", func() bool { return c.converged(0, 1) })
	m, peer := c.members[0], c.members[1]
	// A message of three pieces, the last one short.
	dec := ctlMsg{Type: mDecision, From: peer.self, Round: m.view.ID, Data: make([]byte, 2*fragmentLen+100)}
	inner, err := dec.encode(nil, 42)
	if err != nil {
		t.Fatal(err)
	}
	piece := func(from Endpoint, id, i, n uint64) []byte {
		end := min(len(inner), int(i+1)*fragmentLen)
		return encodeCtl(t, ctlMsg{Type: mFragment, From: from, Frag: fragment{ID: id, Index: i, Count: n, Chunk: inner[int(i)*fragmentLen : end]}})
	}
	s := stranger(0)
	c.inject(0, s.Addr, piece(s, 1, 0, 3))
	if m.counters["drop.stranger.Fragment"] != 1 || len(m.reassembly.msgs) != 0 {
		t.Fatalf("a stranger's fragment was kept")
	}
	c.inject(0, peer.self.Addr, piece(peer.self, 5, 0, 3))
	c.inject(0, peer.self.Addr, encodeCtl(t, ctlMsg{Type: mFragment, From: peer.self, Frag: fragment{ID: 5, Index: 1, Count: 4, Chunk: []byte("x")}}))
	if m.counters["drop.fragment"] != 1 {
		t.Fatal("a piece with another count was not dropped")
	}
	c.run(c.timing.Flush + time.Millisecond)
	c.inject(0, peer.self.Addr, piece(peer.self, 6, 1, 3))
	if m.counters["fragments_expired"] == 0 {
		t.Fatal("an unfinished message was not forgotten")
	}
	c.inject(0, peer.self.Addr, piece(peer.self, 6, 0, 3))
	c.inject(0, peer.self.Addr, piece(peer.self, 6, 2, 3))
	if m.counters["reassembled"] != 1 || len(m.reassembly.msgs) != 0 || m.reassembly.bytes != 0 {
		t.Fatalf("reassembled %d, %d messages and %d bytes held", m.counters["reassembled"], len(m.reassembly.msgs), m.reassembly.bytes)
	}
}
