package tests

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
)

// TestUDPCrashUnderLoad closes one of five members of a secured group while
// the others multicast, over real sockets: the survivors must install one
// view without it, with a new key epoch they share, and deliver the same
// messages in the view it was in.
func TestUDPCrashUnderLoad(t *testing.T) {
	// The failure detector is what this test exercises: a second of
	// silence is a failure.
	groups := startGroupTiming(t, 5, membership.Timing{Suspect: time.Second, Flush: 3 * time.Second, Stuck: 20 * time.Second}, true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type tally struct {
		mu     sync.Mutex
		counts []map[conclave.Endpoint]int // per view installed: deliveries by sender
		views  []conclave.View
		epochs []uint64          // of each view, from its ViewChange (0 for the first, whose event came before)
		keys   map[uint64]string // the reason of each KeyChange, by epoch
		moved  chan struct{}     // closed at the first view without the crashed member
	}
	crashed := groups[4].Self()
	// A secret of the epoch the crashed member holds, to compare with the
	// survivors' next one.
	old, err := groups[0].Export("crash test", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	tallies := make([]*tally, 5)
	for i, g := range groups {
		tl := &tally{counts: []map[conclave.Endpoint]int{{}}, views: []conclave.View{g.View()}, epochs: []uint64{0}, keys: map[uint64]string{}, moved: make(chan struct{})}
		tallies[i] = tl
		go func() {
			for ev := range g.Events() {
				tl.mu.Lock()
				switch ev.Kind {
				case conclave.Message:
					tl.counts[len(tl.counts)-1][ev.From]++
				case conclave.ViewChange:
					tl.counts = append(tl.counts, map[conclave.Endpoint]int{})
					tl.views = append(tl.views, ev.View)
					tl.epochs = append(tl.epochs, ev.Epoch)
					if !ev.View.Has(crashed) && len(tl.views) > 1 && tl.views[len(tl.views)-2].Has(crashed) {
						close(tl.moved)
					}
				case conclave.KeyChange:
					tl.keys[ev.Epoch] = ev.Reason
				}
				tl.mu.Unlock()
			}
		}()
	}
	var wg sync.WaitGroup
	for i, g := range groups[:4] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range 3000 {
				if err := g.Multicast(ctx, fmt.Appendf(nil, "%d %d", i, k)); err != nil {
					t.Errorf("member %d: %v", i, err)
					return
				}
			}
		}()
	}
	groups[4].Close()
	for i, g := range groups[:4] {
		select {
		case <-tallies[i].moved:
		case <-ctx.Done():
			t.Fatalf("member %d: no view without the crashed member (in %v)", i, g.View())
		}
	}
	wg.Wait()
	// Compare, across survivors, the first view without the crashed member
	// and the deliveries made in the view just before it.
	var ref map[conclave.Endpoint]int
	var refView conclave.ViewID
	var refEpoch uint64
	for i, tl := range tallies[:4] {
		tl.mu.Lock()
		k := 1
		for tl.views[k].Has(crashed) {
			k++
		}
		got, next := tl.counts[k-1], tl.views[k].ID
		epoch, before, reason := tl.epochs[k], tl.epochs[k-1], tl.keys[tl.epochs[k]]
		tl.mu.Unlock()
		if i > 0 && (next != refView || epoch != refEpoch) {
			t.Fatalf("member %d moved to %v epoch %d, member 0 to %v epoch %d", i, next, epoch, refView, refEpoch)
		}
		// The view without the crashed member has a key it never held.
		if epoch <= before || !strings.Contains(reason, "failure") {
			t.Fatalf("member %d: the view without the crashed member has epoch %d (key change %q), the one before %d", i, epoch, reason, before)
		}
		refView, refEpoch = next, epoch
		if i == 0 {
			ref = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(ref) {
			t.Fatalf("member %d delivered %v in the last view with the crashed member, member 0 %v", i, got, ref)
		}
	}
	for i, g := range groups[:4] {
		s, err := g.Export("crash test", nil, 32)
		if err != nil || bytes.Equal(s, old) {
			t.Fatalf("member %d: the epoch after the crash exports the old secret (%v)", i, err)
		}
		if i > 0 {
			if s0, _ := groups[0].Export("crash test", nil, 32); !bytes.Equal(s, s0) {
				t.Fatalf("members 0 and %d export different secrets in one view", i)
			}
		}
	}
}
