package membership_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// keyChange is a ViewChange event and the KeyChange that followed it.
type keyChange struct {
	view membership.Event
	key  membership.Event
}

// keyChanges checks member i's events since event from: each ViewChange
// is followed at once by a KeyChange of the same epoch, and names the
// members' identities by rank (the test participant's names are m<index>).
// It returns them, and the number of events seen.
func (g *group) keyChanges(i, from int) ([]keyChange, int) {
	g.t.Helper()
	evs := g.events[i]
	var kcs []keyChange
	for j := from; j < len(evs); j++ {
		ev := evs[j]
		switch ev.Kind {
		case membership.KeyChange:
			g.t.Fatalf("member %d: a KeyChange not right after a ViewChange: %+v", i, ev)
		case membership.ViewChange:
		default:
			continue
		}
		if j+1 >= len(evs) || evs[j+1].Kind != membership.KeyChange {
			g.t.Fatalf("member %d: ViewChange of %v not followed by a KeyChange", i, ev.View.ID)
		}
		key := evs[j+1]
		if key.Epoch != ev.Epoch {
			g.t.Fatalf("member %d: ViewChange of %v has epoch %d, its KeyChange %d", i, ev.View.ID, ev.Epoch, key.Epoch)
		}
		if len(ev.Identities) != len(ev.View.Members) {
			g.t.Fatalf("member %d: view %v has %d members, %d identities", i, ev.View.ID, len(ev.View.Members), len(ev.Identities))
		}
		for r, e := range ev.View.Members {
			want := membership.Identity{Provider: "psk", Name: fmt.Sprintf("m%d", g.index(e))}
			if ev.Identities[r] != want {
				g.t.Fatalf("member %d: view %v names rank %d %v, want %v", i, ev.View.ID, r, ev.Identities[r], want)
			}
		}
		kcs = append(kcs, keyChange{view: ev, key: key})
		j++
	}
	return kcs, len(evs)
}

// reasons are the reasons of member i's key changes since event from.
func (g *group) reasons(i, from int) ([]string, int) {
	g.t.Helper()
	kcs, n := g.keyChanges(i, from)
	var rs []string
	for _, kc := range kcs {
		rs = append(rs, kc.key.Reason)
	}
	return rs, n
}

// lastReason is the reason of member i's last key change since event from.
func (g *group) lastReason(i, from int) string {
	g.t.Helper()
	rs, _ := g.reasons(i, from)
	if len(rs) == 0 {
		g.t.Fatalf("member %d: no key change since event %d", i, from)
	}
	return rs[len(rs)-1]
}

func TestKeyChangeFollowsEveryViewWithItsReason(t *testing.T) {
	g := newGroup(t)
	g.add()
	if rs, _ := g.reasons(0, 0); len(rs) != 1 || rs[0] != membership.ReasonFirst {
		t.Fatalf("a member that starts: reasons %q, want [first]", rs)
	}
	g.add()
	g.add()
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	if r := g.lastReason(0, 0); r != membership.ReasonJoin {
		t.Fatalf("coordinator after joins: %q, want join", r)
	}
	if r := g.lastReason(2, 0); r != membership.ReasonJoin {
		t.Fatalf("the last joiner: %q, want join", r)
	}
	// Epochs count up along the coordinator's views.
	kcs, _ := g.keyChanges(0, 0)
	for j := 1; j < len(kcs); j++ {
		if kcs[j].key.Epoch <= kcs[j-1].key.Epoch {
			t.Fatalf("epochs do not grow: %d then %d", kcs[j-1].key.Epoch, kcs[j].key.Epoch)
		}
	}

	mark := make([]int, 3)
	for i := range mark {
		mark[i] = len(g.events[i])
	}
	v := g.members[0].View()
	g.members[1].Rekey()
	g.runUntil(time.Second, "a rekey", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(3)...) })
	for i := range 3 {
		if rs, _ := g.reasons(i, mark[i]); len(rs) != 1 || rs[0] != membership.ReasonRekey {
			t.Fatalf("member %d after a rekey: %q, want [rekey]", i, rs)
		}
		mark[i] = len(g.events[i])
	}

	g.members[2].Leave()
	g.runUntil(time.Second, "a view of 2", func() bool { return g.converged(0, 1) && g.members[2].Left() })
	for i := range 2 {
		if r := g.lastReason(i, mark[i]); r != membership.ReasonLeave {
			t.Fatalf("member %d after a leave: %q, want leave", i, r)
		}
		mark[i] = len(g.events[i])
	}

	g.add() // member 3
	g.runUntil(3*time.Second, "a view of 0, 1, 3", func() bool { return g.converged(0, 1, 3) })
	for i := range 2 {
		mark[i] = len(g.events[i])
	}
	g.crash(3)
	g.runUntil(3*time.Second, "a view of 2 again", func() bool { return g.converged(0, 1) })
	for i := range 2 {
		if r := g.lastReason(i, mark[i]); r != membership.ReasonFailure {
			t.Fatalf("member %d after a crash: %q, want failure", i, r)
		}
	}
}

func TestKeyChangeAfterAPartitionMerge(t *testing.T) {
	g := newGroup(t)
	for range 5 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 5", func() bool { return g.converged(upTo(5)...) })
	a := []netip.AddrPort{transport.Addr(0), transport.Addr(1)}
	b := []netip.AddrPort{transport.Addr(2), transport.Addr(3), transport.Addr(4)}
	g.net.Partition(a, b)
	g.runUntil(5*time.Second, "two views", func() bool { return g.converged(0, 1) && g.converged(2, 3, 4) })
	for _, i := range []int{0, 3} {
		if r := g.lastReason(i, 0); r != membership.ReasonFailure {
			t.Fatalf("member %d after the partition: %q, want failure", i, r)
		}
	}
	mark := make([]int, 5)
	for i := range mark {
		mark[i] = len(g.events[i])
	}
	g.net.Heal()
	g.runUntil(5*time.Second, "one view again", func() bool { return g.converged(upTo(5)...) })
	// The smaller side was absorbed, in one view change (its coordinator
	// too: it was a member of a view of the absorbing coordinator's
	// before, whose key must not stand in for their admission's): for
	// its members a merge, for the others its members joined.
	for i := range 5 {
		want := membership.ReasonJoin
		if i < 2 {
			want = membership.ReasonMerge
		}
		rs, _ := g.reasons(i, mark[i])
		if len(rs) != 1 || rs[0] != want {
			t.Fatalf("member %d after the merge: %q, want [%s]", i, rs, want)
		}
	}
}
