package conclave

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
)

// joinPair joins two members of a fresh group over UDP on loopback and
// waits until both are in a view of the two.
func joinPair(ctx context.Context, t *testing.T, name string) [2]*Group {
	t.Helper()
	var gs [2]*Group
	for i := range gs {
		cfg := Config{Group: name, Listen: netip.MustParseAddrPort("127.0.0.1:0"), Insecure: true}
		// These tests are not about failure detection: a member that a
		// loaded machine starves of CPU must not be suspected.
		cfg.Timing.Suspect = time.Minute
		if i > 0 {
			cfg.Seeds = []netip.AddrPort{gs[0].LocalAddr()}
		}
		g, err := Join(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { g.Close() })
		gs[i] = g
	}
	for _, g := range gs {
		if _, err := g.AwaitView(ctx, func(v View) bool { return len(v.Members) == 2 }); err != nil {
			t.Fatal(err)
		}
	}
	return gs
}

// holdDriver keeps g's driver goroutine busy until the returned function
// is called: it asks for the counters on a reply channel that nobody reads
// until then, so the goroutine waits to hand them over.
func holdDriver(t *testing.T, g *Group) (release func()) {
	t.Helper()
	reply := make(chan []layers.Counter)
	select {
	case g.stats <- reply:
	case <-g.exited:
		t.Fatal("the member stopped")
	}
	return func() { <-reply }
}

// awaitDelivery reads g's events until a message from from with data.
func awaitDelivery(ctx context.Context, g *Group, from Endpoint, data string) error {
	for {
		select {
		case ev, ok := <-g.Events():
			if !ok {
				return fmt.Errorf("events closed: %v", g.closedErr())
			}
			if ev.Kind == Message && ev.From == from && string(ev.Data) == data {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("no message %q from %v: %w", data, from, ctx.Err())
		}
	}
}

// TestMessagePathBypassesTheDriverGoroutines holds both members' driver
// goroutines and has one member multicast: the message still reaches both
// applications, because the caller's goroutine runs the sender's stack and
// puts the datagrams on the wire, and the receiver's reader goroutine runs
// the receiver's stack on what it read. Neither waits for a driver
// goroutine to be scheduled, which is what costs latency on a quiet
// machine.
func TestMessagePathBypassesTheDriverGoroutines(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gs := joinPair(ctx, t, "bypass")
	for _, g := range gs {
		defer holdDriver(t, g)()
	}
	// The first request is no part of a burst, so the caller runs its
	// pass.
	if err := gs[1].Multicast(ctx, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	wait, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	for i, g := range gs {
		if err := awaitDelivery(wait, g, gs[1].Self(), "hello"); err != nil {
			t.Fatalf("member %d with its driver goroutine held: %v", i, err)
		}
	}
}

// TestBurstGoesToTheDriverGoroutine holds the sender's driver goroutine and
// multicasts a burst (every request after the first is part of one, here):
// the first burstInline messages leave on the caller's goroutine and arrive
// while the driver goroutine is held; the rest are left queued for a pass
// of the driver goroutine (or of the reader, if a datagram comes first),
// which bundles them. All arrive, in order.
func TestBurstGoesToTheDriverGoroutine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	gs := joinPair(ctx, t, "burst")
	gs[1].driver.burstGap = time.Hour
	release := holdDriver(t, gs[1])
	const n = burstInline + 3
	for i := range n {
		if err := gs[1].Multicast(ctx, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	wait, stop := context.WithTimeout(ctx, 5*time.Second)
	defer stop()
	for i := range burstInline {
		if err := awaitDelivery(wait, gs[0], gs[1].Self(), fmt.Sprint(i)); err != nil {
			t.Fatalf("with the sender's driver goroutine held: %v", err)
		}
	}
	release()
	// awaitDelivery skips what comes before: had a message overtaken an
	// earlier one, the earlier would not come again.
	for i := burstInline; i < n; i++ {
		if err := awaitDelivery(wait, gs[0], gs[1].Self(), fmt.Sprint(i)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestSlowApplicationLosesNothing has the receiver read no events while the
// sender multicasts more than the events channel and the driver's pending
// queue hold: the receiver stops reading the network, flow control holds
// the sender back, and once the application reads, every message arrives,
// in order, and the sender finishes.
func TestSlowApplicationLosesNothing(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	gs := joinPair(ctx, t, "slow")
	// More than the receiver holds back (its events channel, its pending
	// queue, and what the batch that makes it stop reading brings: up to
	// readBatch datagrams of bundled messages) and the sender queues (its
	// request queue and backlog).
	n := 2*(cap(gs[0].events)+maxPending) + 3*gs[1].cfg.Backlog
	// The sender delivers its own messages too, and reads them.
	go func() {
		for range gs[1].Events() {
		}
	}()
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := gs[1].Multicast(ctx, []byte(fmt.Sprint(i))); err != nil {
				sent <- fmt.Errorf("multicast %d: %w", i, err)
				return
			}
		}
		sent <- nil
	}()
	// Wait until the receiver has stopped reading the network.
	for deaf := false; !deaf; {
		select {
		case err := <-sent:
			t.Fatalf("the sender finished (%v) while the receiver read nothing", err)
		case <-ctx.Done():
			t.Fatal("the receiver never stopped reading the network")
		case <-time.After(time.Millisecond):
		}
		d := gs[0].driver
		d.mu.Lock()
		deaf = d.deaf()
		d.mu.Unlock()
	}
	for i := 0; i < n; {
		select {
		case ev := <-gs[0].Events():
			if ev.Kind != Message {
				// The join's views come first; a view after the first
				// message means a member was suspected.
				if i > 0 {
					t.Fatalf("%v event while message %d is due", ev.Kind, i)
				}
				continue
			}
			if got := string(ev.Data); got != fmt.Sprint(i) {
				t.Fatalf("message %q delivered where %d is due", got, i)
			}
			i++
		case <-ctx.Done():
			cs, _ := gs[0].Counters()
			t.Fatalf("message %d of %d never came; the receiver's counters: %v", i, n, cs)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
}
