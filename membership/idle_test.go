package membership_test

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// idler is a test participant that records its Idle calls, and fails the
// test when one comes while its member takes part in a view change (from
// its contribution to its install).
type idler struct {
	*membershiptest.Participant
	t       *testing.T
	inRound bool
	calls   int
	views   map[membership.ViewID]bool
}

func (p *idler) Contribute(next membership.View) []byte {
	p.inRound = true
	return p.Participant.Contribute(next)
}

func (p *idler) Install(next membership.View) (layers.Keys, error) {
	p.inRound = false
	return p.Participant.Install(next)
}

func (p *idler) Idle(id membership.ViewID) {
	if p.inRound {
		p.t.Errorf("%v: Idle during a view change", p.Self)
	}
	p.calls++
	p.views[id] = true
}

// TestIdleOnlyAtRest: an Idler participant is called on the ticks of its
// member at rest in a view, with that view, and never while the member
// takes part in a view change.
func TestIdleOnlyAtRest(t *testing.T) {
	g := newGroup(t)
	var idlers []*idler
	g.configure = func(_ int, p *membershiptest.Participant, cfg *membership.Config) {
		i := &idler{Participant: p, t: t, views: map[membership.ViewID]bool{}}
		idlers = append(idlers, i)
		cfg.Participant = i
	}
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	g.run(10 * time.Millisecond)
	v := g.members[0].View()
	for i, p := range idlers {
		if p.calls == 0 || !p.views[v.ID] {
			t.Fatalf("member %d: %d Idle calls, none with its view %v", i, p.calls, v.ID)
		}
	}
	g.crash(3)
	g.members[0].Suspect(g.members[3].Self())
	g.drain(0)
	g.runUntil(3*time.Second, "the survivors' view", func() bool { return g.converged(upTo(3)...) })
	before := idlers[0].calls
	g.run(10 * time.Millisecond)
	if idlers[0].calls <= before || !idlers[0].views[g.members[0].View().ID] {
		t.Fatalf("no Idle in the survivors' view %v", g.members[0].View().ID)
	}
}
