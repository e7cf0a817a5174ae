package tests

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/transport"
)

// startGroup starts n members on loopback UDP sockets with ephemeral ports.
func startGroup(t testing.TB, n int) []*conclave.Group {
	t.Helper()
	conns := make([]transport.Conn, n)
	addrs := make([]netip.AddrPort, n)
	for i := range n {
		c, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
		if err != nil {
			t.Fatal(err)
		}
		conns[i], addrs[i] = c, c.LocalAddr()
		t.Cleanup(func() { c.Close() })
	}
	groups := make([]*conclave.Group, n)
	for i := range n {
		g, err := conclave.Join(context.Background(), conclave.Config{Group: t.Name(), Members: addrs, Self: i, Conn: conns[i]})
		if err != nil {
			t.Fatal(err)
		}
		groups[i] = g
		t.Cleanup(func() { g.Close() })
	}
	return groups
}

// TestUDPLoopback100k multicasts 100,000 messages among three members over
// real UDP sockets and checks that every member delivers each exactly once,
// in each sender's order, with the right contents.
func TestUDPLoopback100k(t *testing.T) {
	const members, total = 3, 100_000
	groups := startGroup(t, members)
	perSender := [members]int{}
	for i := range total {
		perSender[i%members]++
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var wg sync.WaitGroup
	errs := make(chan error, 2*members)
	for r, g := range groups {
		wg.Add(2)
		go func() {
			defer wg.Done()
			msg := make([]byte, 64)
			for i := range perSender[r] {
				binary.BigEndian.PutUint32(msg[0:], uint32(r))
				binary.BigEndian.PutUint32(msg[4:], uint32(i))
				for j := 8; j < len(msg); j++ {
					msg[j] = byte(r + i + j)
				}
				if err := g.Multicast(ctx, msg); err != nil {
					errs <- fmt.Errorf("member %d: multicast %d: %w", r, i, err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			next := [members]int{}
			for got := 0; got < total; got++ {
				var ev conclave.Event
				select {
				case ev = <-g.Events():
				case <-ctx.Done():
					errs <- fmt.Errorf("member %d: delivered %d of %d: %w (next %v)", r, got, total, ctx.Err(), next)
					return
				}
				from, i := int(binary.BigEndian.Uint32(ev.Data)), int(binary.BigEndian.Uint32(ev.Data[4:]))
				if from != ev.From || i != next[from] || len(ev.Data) != 64 || ev.Data[63] != byte(from+i+63) {
					errs <- fmt.Errorf("member %d: delivery %d: from %d (claims %d) index %d, want index %d", r, got, ev.From, from, i, next[from])
					return
				}
				next[from]++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for r, g := range groups {
		cs, _ := g.Counters()
		t.Logf("member %d: %v", r, cs)
	}
}

// TestUDPLargeMessages sends 16 MiB messages, multicast and point to point,
// over real sockets: fragmentation, flow control and reassembly together.
func TestUDPLargeMessages(t *testing.T) {
	groups := startGroup(t, 3)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	big := make([]byte, 16<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	if err := groups[0].Multicast(ctx, big); err != nil {
		t.Fatal(err)
	}
	if err := groups[1].Send(ctx, 2, big[:5<<20]); err != nil {
		t.Fatal(err)
	}
	want := map[int]int{0: 1, 1: 1, 2: 2}
	for r, g := range groups {
		for range want[r] {
			select {
			case ev := <-g.Events():
				switch {
				case ev.Multicast && ev.From == 0 && bytes.Equal(ev.Data, big):
				case !ev.Multicast && ev.From == 1 && r == 2 && bytes.Equal(ev.Data, big[:5<<20]):
				default:
					t.Fatalf("member %d: unexpected delivery from %d (multicast %v, %d bytes)", r, ev.From, ev.Multicast, len(ev.Data))
				}
			case <-ctx.Done():
				t.Fatalf("member %d: %v", r, ctx.Err())
			}
		}
	}
}
