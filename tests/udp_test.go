package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"net/netip"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// steadyTiming keeps members from suspecting each other while a loaded
// machine (the race detector, parallel test binaries) starves them for a
// second or two: tests about data transfer must not see view changes they
// did not cause.
var steadyTiming = membership.Timing{Suspect: 5 * time.Second, Flush: 10 * time.Second, Stuck: 30 * time.Second}

// startGroup starts n members of a plain group on loopback UDP sockets with
// ephemeral ports, with steadyTiming, and waits until they share one view.
func startGroup(t testing.TB, n int) []*conclave.Group {
	return startGroupTiming(t, n, steadyTiming, false)
}

// startGroupTiming starts n members with timing; secured, each has a Noise
// key of its own and admits the keys of all.
func startGroupTiming(t testing.TB, n int, timing membership.Timing, secured bool) []*conclave.Group {
	t.Helper()
	groups, _ := startGroupLogged(t, n, timing, secured)
	return groups
}

// startGroupLogged is startGroupTiming, and returns the members' protocol
// log too (nil for a benchmark).
func startGroupLogged(t testing.TB, n int, timing membership.Timing, secured bool) ([]*conclave.Group, *protocolLog) {
	t.Helper()
	var keys []*noise.PrivateKey
	var allowed []string
	if secured {
		for range n {
			k, err := noise.GenerateKey(rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			keys, allowed = append(keys, k), append(allowed, k.Public().String())
		}
	}
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
	logger, plog := newProtocolLog(t)
	for i := range n {
		cfg := conclave.Config{Group: t.Name(), Members: addrs, Self: i, Conn: conns[i], Timing: timing, Logger: logger, Insecure: true}
		if secured {
			cfg.Credential, cfg.Admit, cfg.Insecure = noise.NewCredential(keys[i]), auth.Allow(allowed...), false
		}
		g, err := conclave.Join(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		groups[i] = g
		t.Cleanup(func() { g.Close() })
	}
	awaitFullView(t, groups)
	return groups, plog
}

// awaitFullView waits until every member is in one view of all of them at
// once, and drains the events that led there. A member that a busy machine
// pauses past the failure detector's timeout may drop out of the full view
// and merge back: only a moment when all agree counts.
func awaitFullView(t testing.TB, groups []*conclave.Group) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cases := []reflect.SelectCase{{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(ctx.Done())}}
	for _, g := range groups {
		cases = append(cases, reflect.SelectCase{Dir: reflect.SelectRecv, Chan: reflect.ValueOf(g.Events())})
	}
	// Each member's view as its events have told it so far: the last
	// ViewChange taken from its channel, so that none is left behind for
	// the caller.
	views := make([]conclave.View, len(groups))
	for {
		agreed := true
		for _, v := range views {
			agreed = agreed && len(v.Members) == len(groups) && v.ID == views[0].ID
		}
		if agreed {
			return
		}
		i, ev, ok := reflect.Select(cases)
		if i > 0 && !ok {
			t.Fatalf("member %d: its events ended before a view of all", i-1)
		}
		if i == 0 {
			for i, g := range groups {
				t.Logf("member %d is in %v", i, g.View())
			}
			t.Fatalf("no view of all %d members within the deadline", len(groups))
		}
		if e := ev.Interface().(conclave.Event); e.Kind == conclave.ViewChange {
			views[i-1] = e.View
		}
	}
}

// nextMessage returns the next delivered message, skipping other events.
func nextMessage(ctx context.Context, g *conclave.Group) (conclave.Event, error) {
	for {
		select {
		case ev, ok := <-g.Events():
			if !ok {
				return ev, conclave.ErrClosed
			}
			if ev.Kind == conclave.Message {
				return ev, nil
			}
		case <-ctx.Done():
			return conclave.Event{}, ctx.Err()
		}
	}
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
				ev, err := nextMessage(ctx, g)
				if err != nil {
					errs <- fmt.Errorf("member %d: delivered %d of %d: %w (next %v)", r, got, total, err, next)
					return
				}
				from, i := int(binary.BigEndian.Uint32(ev.Data)), int(binary.BigEndian.Uint32(ev.Data[4:]))
				if from >= members || groups[from].Self() != ev.From || i != next[from] || len(ev.Data) != 64 || ev.Data[63] != byte(from+i+63) {
					errs <- fmt.Errorf("member %d: delivery %d: from %v (claims %d) index %d, want index %d", r, got, ev.From, from, i, next[from])
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
	if err := groups[1].Send(ctx, groups[2].Self(), big[:5<<20]); err != nil {
		t.Fatal(err)
	}
	want := map[int]int{0: 1, 1: 1, 2: 2}
	for r, g := range groups {
		for range want[r] {
			ev, err := nextMessage(ctx, g)
			if err != nil {
				t.Fatalf("member %d: %v", r, err)
			}
			switch {
			case ev.Multicast && ev.From == groups[0].Self() && bytes.Equal(ev.Data, big):
			case !ev.Multicast && ev.From == groups[1].Self() && r == 2 && bytes.Equal(ev.Data, big[:5<<20]):
			default:
				t.Fatalf("member %d: unexpected delivery from %v (multicast %v, %d bytes)", r, ev.From, ev.Multicast, len(ev.Data))
			}
		}
	}
}
