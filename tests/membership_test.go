package tests

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
)

// TestUDPCrashUnderLoad closes one of five members while the others
// multicast, over real sockets: the survivors must install one view without
// it, and deliver the same messages in the view it was in.
func TestUDPCrashUnderLoad(t *testing.T) {
	groups := startGroup(t, 5)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	type tally struct {
		mu     sync.Mutex
		counts []map[conclave.Endpoint]int // per view installed: deliveries by sender
		views  []conclave.View
	}
	tallies := make([]*tally, 5)
	for i, g := range groups {
		tl := &tally{counts: []map[conclave.Endpoint]int{{}}, views: []conclave.View{g.View()}}
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
		if _, err := g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == 4 && !v.Has(groups[4].Self()) }); err != nil {
			t.Fatalf("member %d: %v (in %v)", i, err, g.View())
		}
	}
	wg.Wait()
	want := groups[0].View().ID
	for i, g := range groups[:4] {
		if g.View().ID != want {
			t.Fatalf("member %d installed %v, member 0 %v", i, g.View(), groups[0].View())
		}
	}
	// Find, at each survivor, the deliveries made in the view that
	// contained the crashed member and immediately preceded the first view
	// without it.
	var ref map[conclave.Endpoint]int
	for i, tl := range tallies[:4] {
		tl.mu.Lock()
		k := len(tl.views) - 1
		for k > 0 && !tl.views[k-1].Has(groups[4].Self()) {
			k--
		}
		got := tl.counts[k-1]
		tl.mu.Unlock()
		if i == 0 {
			ref = got
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(ref) {
			t.Fatalf("member %d delivered %v in the last view with the crashed member, member 0 %v", i, got, ref)
		}
	}
}
