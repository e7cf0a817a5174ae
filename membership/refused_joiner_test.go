package membership_test

import (
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// refusedJoinerGroup builds a group of three whose decider is delegated
// (not the coordinator) and whose participants refuse, as decider, the
// contributions of the members named in refuse.
func refusedJoinerGroup(t *testing.T, refuse ...string) *group {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) {
		p.Delegate = true
		p.RefuseJoiner = func(_ membership.Endpoint, contribution []byte) bool {
			return slices.Contains(refuse, string(contribution))
		}
	}
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	return g
}

// checkNoSplit fails if any of the members listed ever installed a view
// without one of the others, or suspected one of them.
func (g *group) checkNoSplit(idx ...int) {
	g.t.Helper()
	for _, i := range idx {
		for _, ev := range g.events[i] {
			if ev.Kind != membership.ViewChange {
				continue
			}
			for _, j := range idx {
				if !ev.View.Has(g.members[j].Self()) && len(ev.View.Members) >= len(idx) {
					g.t.Fatalf("member %d installed %v without member %d", i, ev.View, j)
				}
			}
			if len(ev.Failed) > 0 {
				g.t.Fatalf("member %d installed %v with failed members %v", i, ev.View, ev.Failed)
			}
		}
	}
	for _, name := range []string{"flush_timeouts", "members_refused", "decider_timeouts"} {
		if n := g.total(name); n != 0 {
			g.t.Fatalf("%s = %d, want 0", name, n)
		}
	}
}

// TestDeciderRefusingAJoinerKeepsTheGroup: a delegated decider whose
// Decide blames a joiner makes the coordinator retry without the joiner;
// the decider is not suspected, and the round without the joiner
// installs at every member.
func TestDeciderRefusingAJoinerKeepsTheGroup(t *testing.T) {
	g := refusedJoinerGroup(t, "m3")
	v := g.members[0].View()
	g.add()
	g.runUntil(3*time.Second, "the decider refusing the joiner", func() bool { return g.total("decider_refusals") > 0 })
	g.runUntil(3*time.Second, "a new view of the 3 without the joiner", func() bool {
		return g.converged(upTo(3)...) && g.members[0].View().ID != v.ID
	})
	g.run(time.Second)
	if !g.converged(upTo(3)...) {
		t.Fatalf("the group did not stay one view of 3:%s", g.describe())
	}
	if v := g.members[0].View(); v.Has(g.members[3].Self()) {
		t.Fatal("the refused joiner was installed")
	}
	g.checkNoSplit(upTo(3)...)
	g.sameEpoch(upTo(3)...)
	if g.total("sent.DecideReq") == 0 {
		t.Fatal("the decision was never delegated")
	}
}

// TestDeciderRefusingOneJoinerAdmitsTheOther: of two joiners, only the one
// the decider names is left out, and held back for a while.
func TestDeciderRefusingOneJoinerAdmitsTheOther(t *testing.T) {
	g := refusedJoinerGroup(t, "m3")
	g.add()
	g.add()
	g.runUntil(5*time.Second, "a view of 4 without the refused joiner", func() bool {
		return g.converged(0, 1, 2, 4)
	})
	if g.total("decider_refusals") == 0 {
		t.Fatal("the decider never refused")
	}
	g.run(time.Second)
	if !g.converged(0, 1, 2, 4) {
		t.Fatalf("the group did not stay one view of 4:%s", g.describe())
	}
	// The refused joiner, named, is shunned for Timing.Merge after each
	// refusal: it is not readmitted into every round (a refusal that
	// named no one would leave out both and shun neither).
	if n := g.total("decider_refusals"); n > 10 {
		t.Fatalf("decider_refusals = %d in about %v: the named joiner was not held back", n, g.now)
	}
	g.checkNoSplit(0, 1, 2)
	g.sameEpoch(0, 1, 2, 4)
}
