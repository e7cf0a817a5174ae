package tests

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
)

// TestUDPCrashUnderLoad closes one of five members of a secured group while
// the others multicast, over real sockets. The survivors that move together
// to a view without it share that view's new key epoch and delivered the
// same messages in the view it was in; all of them move together unless a
// member was paused past the failure detector's timeout, which the log then
// shows; and within a deadline they are all in one view of the survivors,
// where multicasting works and they export one secret, not the old one.
func TestUDPCrashUnderLoad(t *testing.T) {
	// The failure detector is what this test exercises: a second of
	// silence is a failure.
	const suspect = time.Second
	groups, plog := startGroupLogged(t, 5, membership.Timing{Suspect: suspect, Flush: 3 * time.Second, Stuck: 20 * time.Second}, true)
	// Generous: a machine loaded many times over its cores stretches every
	// phase, and the checks below do not depend on the time taken.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()

	type tally struct {
		mu     sync.Mutex
		counts []map[conclave.Endpoint]int // per view installed: deliveries by sender
		views  []conclave.View
		epochs []uint64                   // of each view, from its ViewChange (0 for the first, whose event came before)
		keys   map[uint64]string          // the reason of each KeyChange, by epoch
		moved  chan struct{}              // closed at the first view without the crashed member
		after  map[conclave.Endpoint]bool // senders of an "after" message delivered, in any view
	}
	crashed := groups[4].Self()
	var survivors []conclave.Endpoint
	for _, g := range groups[:4] {
		survivors = append(survivors, g.Self())
	}
	// A secret of the epoch the crashed member holds, to compare with the
	// survivors' next one.
	old, err := groups[0].Export("crash test", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	changed := make(chan struct{}, 1) // a member had an event
	tallies := make([]*tally, 5)
	for i, g := range groups {
		tl := &tally{counts: []map[conclave.Endpoint]int{{}}, views: []conclave.View{g.View()}, epochs: []uint64{0}, keys: map[uint64]string{}, moved: make(chan struct{}), after: map[conclave.Endpoint]bool{}}
		tallies[i] = tl
		go func() {
			for ev := range g.Events() {
				tl.mu.Lock()
				switch ev.Kind {
				case conclave.Message:
					tl.counts[len(tl.counts)-1][ev.From]++
					if strings.HasSuffix(string(ev.Data), " after") {
						tl.after[ev.From] = true
					}
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
				select {
				case changed <- struct{}{}:
				default:
				}
			}
		}()
	}
	// awaitSurvivors waits until every survivor is in one view of all the
	// survivors and done holds for its tally (locked).
	awaitSurvivors := func(what string, done func(tl *tally) bool) conclave.View {
		t.Helper()
		for {
			var first conclave.View
			ok := true
			for i, tl := range tallies[:4] {
				tl.mu.Lock()
				v := tl.views[len(tl.views)-1]
				if i == 0 {
					first = v
				}
				ok = ok && v.ID == first.ID && len(v.Members) == len(survivors) && !v.Has(crashed) && done(tl)
				tl.mu.Unlock()
			}
			if ok {
				return first
			}
			select {
			case <-changed:
			case <-ctx.Done():
				for i, g := range groups[:4] {
					t.Logf("member %d is in %v", i, g.View())
				}
				t.Fatalf("the survivors: no %s", what)
			}
		}
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
	closed := time.Now()
	for i, g := range groups[:4] {
		select {
		case <-tallies[i].moved:
		case <-ctx.Done():
			t.Fatalf("member %d: no view without the crashed member (in %v)", i, g.View())
		}
	}
	// The KeyChange event follows each ViewChange: the checks below read
	// those of the views since the close.
	awaitSurvivors("view of them all, with the key changes of the views since the close", func(tl *tally) bool {
		k := slices.IndexFunc(tl.views[1:], func(v conclave.View) bool { return !v.Has(crashed) }) + 1
		for _, e := range tl.epochs[k:] {
			if tl.keys[e] == "" {
				return false
			}
		}
		return true
	})
	converged := time.Now()
	t.Logf("the survivors are in one view of them all %v after the close", converged.Sub(closed).Round(time.Millisecond))
	wg.Wait()

	// Compare, across the survivors that moved together, the first view
	// without the crashed member and the deliveries made in the view just
	// before it.
	type move struct {
		before, next conclave.View
		epoch        uint64
		got          map[conclave.Endpoint]int
	}
	var firsts []conclave.ViewID
	moves := map[conclave.ViewID][]int{} // by the first view without the crashed member: the survivors that moved there
	mv := make([]move, 4)
	for i, tl := range tallies[:4] {
		tl.mu.Lock()
		k := 1
		for tl.views[k].Has(crashed) {
			k++
		}
		mv[i] = move{before: tl.views[k-1], next: tl.views[k], epoch: tl.epochs[k], got: maps.Clone(tl.counts[k-1])}
		before, reason := tl.epochs[k-1], tl.keys[tl.epochs[k]]
		tl.mu.Unlock()
		// The view without the crashed member has a key it never held.
		if mv[i].epoch <= before || !strings.Contains(reason, "failure") {
			t.Errorf("member %d: the view without the crashed member has epoch %d (key change %q), the one before %d", i, mv[i].epoch, reason, before)
		}
		id := mv[i].next.ID
		if moves[id] == nil {
			firsts = append(firsts, id)
		}
		moves[id] = append(moves[id], i)
	}
	for _, id := range firsts {
		ix := moves[id]
		ref := mv[ix[0]]
		for _, i := range ix[1:] {
			if mv[i].epoch != ref.epoch {
				t.Errorf("member %d moved to %v epoch %d, member %d epoch %d", i, id, mv[i].epoch, ix[0], ref.epoch)
			}
			if mv[i].before.ID != ref.before.ID {
				t.Errorf("member %d moved to %v from %v, member %d from %v", i, id, mv[i].before.ID, ix[0], ref.before.ID)
			}
			if fmt.Sprint(mv[i].got) != fmt.Sprint(ref.got) {
				t.Errorf("member %d delivered %v in the last view with the crashed member, member %d %v; both moved to %v", i, mv[i].got, ix[0], ref.got, id)
			}
		}
	}
	if len(firsts) > 1 {
		var split []string
		for _, id := range firsts {
			split = append(split, fmt.Sprint(mv[moves[id][0]].next))
		}
		why := pausesExplaining(plog.Pauses(), suspect, closed.Add(-suspect), converged)
		if len(why) == 0 {
			t.Errorf("the survivors split after the close, into %s, and no member's log shows a pause of %v or more: a split without a cause",
				strings.Join(split, " and "), suspect)
		} else {
			t.Logf("accepted: the survivors split after the close, into %s, as members were paused past the failure detector's timeout of %v: %v",
				strings.Join(split, " and "), suspect, why)
		}
	}

	// Multicasting works in the view of all the survivors.
	for i, g := range groups[:4] {
		if err := g.Multicast(ctx, fmt.Appendf(nil, "%d after", i)); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	// A view change may still come between a Multicast and its delivery,
	// so the deliveries are looked for in every view since.
	delivered := func(tl *tally) bool {
		for _, s := range survivors {
			if !tl.after[s] {
				return false
			}
		}
		return true
	}
	// The survivors of one view export one secret, not the old one. A
	// view change between reading the view and exporting (a member paused
	// past the timeout) is looked at again; a mismatch within one view is
	// an error.
	for {
		final := awaitSurvivors("delivery of each survivor's last multicast", delivered)
		secrets := make([][]byte, 4)
		for i, g := range groups[:4] {
			s, err := g.Export("crash test", nil, 32)
			if err != nil || bytes.Equal(s, old) {
				t.Fatalf("member %d: the epoch after the crash exports the old secret (%v)", i, err)
			}
			secrets[i] = s
		}
		same := true
		for _, g := range groups[:4] {
			same = same && g.View().ID == final.ID
		}
		if !same {
			t.Logf("the view changed while the secrets were read; again at the next event")
			select {
			case <-changed:
			case <-ctx.Done():
				t.Fatalf("the survivors: no steady view to export from")
			}
			continue
		}
		for i := 1; i < 4; i++ {
			if !bytes.Equal(secrets[i], secrets[0]) {
				t.Fatalf("members 0 and %d export different secrets in one view %v", i, final)
			}
		}
		return
	}
}
