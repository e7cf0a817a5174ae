package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
)

// TestUDPCrashUnderLoad closes one of five members while the others
// multicast, over real sockets: the survivors must install one view without
// it, and deliver the same messages in the view it was in.
func TestUDPCrashUnderLoad(t *testing.T) {
	// The failure detector is what this test exercises: a second of
	// silence is a failure.
	groups := startGroupTiming(t, 5, membership.Timing{Suspect: time.Second, Flush: 3 * time.Second, Stuck: 20 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type tally struct {
		mu     sync.Mutex
		counts []map[conclave.Endpoint]int // per view installed: deliveries by sender
		views  []conclave.View
		moved  chan struct{} // closed at the first view without the crashed member
	}
	crashed := groups[4].Self()
	tallies := make([]*tally, 5)
	for i, g := range groups {
		tl := &tally{counts: []map[conclave.Endpoint]int{{}}, views: []conclave.View{g.View()}, moved: make(chan struct{})}
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
					if !ev.View.Has(crashed) && len(tl.views) > 1 && tl.views[len(tl.views)-2].Has(crashed) {
						close(tl.moved)
					}
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
	for i, tl := range tallies[:4] {
		tl.mu.Lock()
		k := 1
		for tl.views[k].Has(crashed) {
			k++
		}
		got, next := tl.counts[k-1], tl.views[k].ID
		tl.mu.Unlock()
		if i > 0 && next != refView {
			t.Fatalf("member %d moved to %v, member 0 to %v", i, next, refView)
		}
		refView = next
		if i == 0 {
			ref = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(ref) {
			t.Fatalf("member %d delivered %v in the last view with the crashed member, member 0 %v", i, got, ref)
		}
	}
}
