package transport

import (
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

func endpoint(tb testing.TB, n *Network, i int) *MemConn {
	tb.Helper()
	c := n.Endpoint(Addr(i), nil)
	tb.Cleanup(func() { c.Close() })
	return c
}

func TestEndpointImmediate(t *testing.T) {
	n := NewNetwork(1, Faults{})
	a, b := endpoint(t, n, 0), endpoint(t, n, 1)
	watchdog(t, a, b)

	out := make([]Outgoing, 100)
	for i := range out {
		out[i] = Outgoing{To: b.LocalAddr(), Data: seqPayload(i)}
	}
	if k, err := a.WriteBatch(out); k != len(out) || err != nil {
		t.Fatalf("WriteBatch = %d, %v", k, err)
	}
	// Without delay everything is in b's inbox once WriteBatch returns.
	in := make([]Incoming, 200)
	k, err := b.ReadBatch(in)
	if err != nil || k != len(out) {
		t.Fatalf("ReadBatch = %d, %v; want %d", k, err, len(out))
	}
	for i, d := range in[:k] {
		if d.From != a.LocalAddr() || payloadSeq(d.Data) != i {
			t.Fatalf("datagram %d: from %v seq %d", i, d.From, payloadSeq(d.Data))
		}
	}
}

func TestEndpointDelayed(t *testing.T) {
	n := NewNetwork(1, Faults{Delay: 2 * time.Millisecond, Reorder: 0.2})
	a, b := endpoint(t, n, 0), endpoint(t, n, 1)
	watchdog(t, a, b)

	const count = 200
	for i := range count {
		if _, err := a.WriteBatch([]Outgoing{{To: b.LocalAddr(), Data: seqPayload(i)}}); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(map[int]bool)
	for _, d := range readAll(t, b, count) {
		seen[payloadSeq(d.Data)] = true
	}
	if len(seen) != count {
		t.Fatalf("%d distinct datagrams of %d", len(seen), count)
	}
	if s := n.Stats(); s.Delivered != count {
		t.Fatalf("stats %+v, want %d delivered", s, count)
	}
}

func TestEndpointClose(t *testing.T) {
	n := NewNetwork(1, Faults{})
	a, b := endpoint(t, n, 0), endpoint(t, n, 1)
	errc := make(chan error, 1)
	go func() {
		_, err := b.ReadBatch(make([]Incoming, 1))
		errc <- err
	}()
	waitBlocked(t, "(*MemConn).ReadBatch")
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
	if _, err := b.WriteBatch(nil); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteBatch after Close: %v", err)
	}
	if err := b.Close(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second Close: %v", err)
	}

	// The address is free again, and datagrams to a closed one vanish.
	if _, err := a.WriteBatch([]Outgoing{{To: Addr(1), Data: []byte("gone")}}); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.Unreachable != 1 {
		t.Errorf("Unreachable = %d, want 1", s.Unreachable)
	}
	endpoint(t, n, 1)
}

func TestEndpointInboxOverflow(t *testing.T) {
	n := NewNetwork(1, Faults{})
	a, b := endpoint(t, n, 0), endpoint(t, n, 1)
	const sent = inboxSize + 904
	out := make([]Outgoing, sent)
	for i := range out {
		out[i] = Outgoing{To: b.LocalAddr(), Data: seqPayload(i)}
	}
	if _, err := a.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	if s := n.Stats(); s.Delivered != inboxSize || s.Overflowed != sent-inboxSize {
		t.Fatalf("stats %+v, want %d delivered and %d overflowed", s, inboxSize, sent-inboxSize)
	}
	got := readAll(t, b, inboxSize)
	for i, d := range got {
		if payloadSeq(d.Data) != i {
			t.Fatalf("datagram %d has seq %d; the oldest must be kept", i, payloadSeq(d.Data))
		}
	}
}

// TestEndpointConcurrent runs writers, readers and network changes at once;
// it is mostly food for the race detector.
func TestEndpointConcurrent(t *testing.T) {
	n := NewNetwork(5, Faults{Delay: time.Millisecond, Duplicate: 0.1})
	const members, perWriter = 4, 500
	conns := make([]*MemConn, members)
	for i := range conns {
		conns[i] = endpoint(t, n, i)
	}
	watchdog(t, func() []Conn {
		var cs []Conn
		for _, c := range conns {
			cs = append(cs, c)
		}
		return cs
	}()...)

	var writers sync.WaitGroup
	for i, c := range conns {
		writers.Go(func() {
			for j := range perWriter {
				to := conns[(i+1+j%(members-1))%members].LocalAddr()
				if _, err := c.WriteBatch([]Outgoing{{To: to, Data: seqPayload(j)}}); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	// Changing faults while traffic flows must be safe; no loss is added,
	// so the readers below can count on every datagram.
	writers.Go(func() {
		for range 100 {
			n.SetFaults(Faults{Delay: time.Millisecond, Duplicate: 0.1})
			n.Stats()
			n.NextDue()
		}
	})

	counts := make(chan int, 64)
	for _, c := range conns {
		go func() {
			buf := make([]Incoming, 64)
			for {
				k, err := c.ReadBatch(buf)
				if err != nil {
					return
				}
				counts <- k
			}
		}()
	}
	writers.Wait()

	// Duplication is decided at send time and nothing is lost, so once the
	// writers are done the number of datagrams to expect is fixed.
	s := n.Stats()
	want := s.Sent + s.Duplicated
	if s.Sent != members*perWriter {
		t.Fatalf("Sent = %d, want %d", s.Sent, members*perWriter)
	}
	deadline := time.After(20 * time.Second)
	for total := uint64(0); total < want; {
		select {
		case k := <-counts:
			total += uint64(k)
		case <-deadline:
			t.Fatalf("read %d of %d datagrams", total, want)
		}
	}
	if s := n.Stats(); s.Delivered != want || s.Overflowed != 0 || s.Unreachable != 0 {
		t.Fatalf("stats %+v, want %d delivered", s, want)
	}
	if _, ok := n.NextDue(); ok {
		t.Fatal("datagrams still in flight after all were read")
	}
}
