package secure

import (
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// drawState reports whether member i holds a path drawn ahead for its
// installed epoch, and how many of its commits used one.
func (c *cluster) drawState(i int) (held bool, used int) {
	p := c.parts[i].Participant
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cur != nil && p.ahead.draw.For(p.cur.group), p.ahead.used
}

// staleDraw reports whether member i keeps a draw that is not of its
// installed epoch.
func (c *cluster) staleDraw(i int) bool {
	p := c.parts[i].Participant
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ahead.draw != nil && (p.cur == nil || !p.ahead.draw.For(p.cur.group))
}

// dhsOf is the number of pairwise DH computations member i made.
func (c *cluster) dhsOf(i int) int { return c.parts[i].pairs.derived() }

// rekeyRound asks the coordinator for a rekey round and runs until every
// member listed installed it.
func (c *cluster) rekeyRound(live ...int) {
	c.t.Helper()
	v := c.members[live[0]].View()
	coord := c.index(v.Members[0].Addr)
	c.members[coord].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(live...) && c.members[live[0]].View().ID != v.ID })
}

// At rest, the member that would decide the next view draws its commit's
// path ahead, and no other member does; its commit takes the draw, and
// the group reaches one epoch.
func TestIdleDrawsAtTheDecider(t *testing.T) {
	const n = 5
	c := newCluster(t)
	c.form(n)
	all := seq(0, n)
	for round := range 3 {
		c.run(20 * time.Millisecond)
		v := c.members[0].View()
		dec := c.index(c.parts[0].Decider(v, v).Addr)
		used := make([]int, n)
		for i := range all {
			held, u := c.drawState(i)
			if held != (i == dec) {
				t.Fatalf("round %d: member %d holds a draw: %v; the decider is %d", round, i, held, dec)
			}
			used[i] = u
		}
		c.rekeyRound(all...)
		c.sameEpoch(all...)
		for i := range all {
			_, u := c.drawState(i)
			if stale := c.staleDraw(i); stale {
				t.Fatalf("round %d: member %d keeps a draw of the old epoch", round, i)
			}
			if want := used[i] + btoi(i == dec); u != want {
				t.Fatalf("round %d: member %d made %d commits with a draw, want %d", round, i, u, want)
			}
		}
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// A draw of an epoch the member has left is erased when it installs the
// next: every member draws, the would-be decider crashes, and the member
// that decides the survivors' view takes its draw; the others keep
// nothing of the old epoch.
func TestIdleDrawOfAnOldEpochErased(t *testing.T) {
	const n = 4
	c := newCluster(t)
	c.form(n)
	c.run(20 * time.Millisecond)
	v := c.members[0].View()
	dec := c.index(c.parts[0].Decider(v, v).Addr)
	used := make([]int, n)
	draws := make([]*keying.PathDraw, n)
	for i := range n {
		p := c.parts[i].Participant
		p.mu.Lock()
		if p.ahead.draw == nil {
			d, err := p.cur.group.DrawPath(p.cfg.Rand)
			if err != nil {
				p.mu.Unlock()
				t.Fatal(err)
			}
			p.ahead.draw = d
		}
		used[i], draws[i] = p.ahead.used, p.ahead.draw
		p.mu.Unlock()
	}
	next := v.Clone()
	next.Members = slices.DeleteFunc(next.Members, func(e membership.Endpoint) bool { return c.index(e.Addr) == dec })
	newDec := c.index(c.parts[0].Decider(v, next).Addr)
	c.crash(dec)
	var live []int
	for i := range n {
		if i != dec {
			live = append(live, i)
		}
	}
	coord := c.index(v.Members[0].Addr)
	if coord == dec {
		coord = c.index(v.Members[1].Addr)
	}
	c.members[coord].Suspect(c.members[dec].Self())
	c.runUntil(2*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
	c.sameEpoch(live...)
	for _, i := range live {
		if c.staleDraw(i) || draws[i].Nodes() != 0 {
			t.Fatalf("member %d keeps a draw of the old epoch", i)
		}
		_, u := c.drawState(i)
		if want := used[i] + btoi(i == newDec); u != want {
			t.Fatalf("member %d made %d commits with a draw, want %d (the survivors' decider is %d)", i, u, want, newDec)
		}
	}
}

// At rest, the pairwise keys of the next round are derived ahead, a few
// per tick: the coordinator's with every member and every member's with
// the coordinator; the round then derives none of them (but, in the new
// view, the one of the coordinator and the committer's new leaf).
func TestIdleWarmsPairKeys(t *testing.T) {
	const n = 8
	c := newCluster(t)
	c.form(n)
	c.run(20 * time.Millisecond)
	v := c.members[0].View()
	coord := c.index(v.Members[0].Addr)
	for r, e := range v.Members {
		i := c.index(e.Addr)
		p := c.parts[i].Participant
		p.mu.Lock()
		a := p.installedAuthenticator(v.ID)
		p.mu.Unlock()
		if a == nil {
			t.Fatalf("member %d has no authenticator of its view", i)
		}
		for peer := range v.Members {
			if (r == 0) != (peer == 0) && a.pair[peer] == nil {
				t.Fatalf("rank %d holds no pair key with rank %d after a rest", r, peer)
			}
		}
	}
	dec := c.index(c.parts[0].Decider(v, v).Addr)
	before := make([]int, n)
	for i := range n {
		before[i] = c.dhsOf(i)
	}
	c.rekeyRound(seq(0, n)...)
	for i := range n {
		d := c.dhsOf(i) - before[i]
		// The committer's new leaf gives it and the coordinator a new
		// pair in the new view.
		if i == coord || i == dec {
			if d > 1 {
				t.Fatalf("member %d derived %d pair keys in the round (the coordinator is %d, the committer %d)", i, d, coord, dec)
			}
		} else if d != 0 {
			t.Fatalf("member %d derived %d pair keys in the round (the coordinator is %d, the committer %d)", i, d, coord, dec)
		}
	}
}

// Idle does nothing for a view this member has not installed.
func TestIdleOtherView(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	other := v.Clone()
	other.ID.LTime++
	for i := range 3 {
		p := c.parts[i].Participant
		p.mu.Lock()
		p.dropDraw()
		p.mu.Unlock()
		dhs := c.dhsOf(i)
		p.Idle(other.ID)
		if held, _ := c.drawState(i); held || c.dhsOf(i) != dhs {
			t.Fatalf("member %d worked ahead for a view it does not have", i)
		}
	}
}

// A draw held at rest is replaced by a fresh one after redrawAfter Idle
// calls, the old one erased: a leak of the member's memory reveals the
// next commit's path secrets for a bounded time only.
func TestIdleRedraws(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	c.run(20 * time.Millisecond)
	v := c.members[0].View()
	dec := c.index(c.parts[0].Decider(v, v).Addr)
	p := c.parts[dec].Participant
	p.mu.Lock()
	first := p.ahead.draw
	p.mu.Unlock()
	if first == nil {
		t.Fatal("the decider drew nothing at rest")
	}
	c.run(redrawAfter * time.Millisecond / 2)
	p.mu.Lock()
	same := p.ahead.draw == first
	p.mu.Unlock()
	if !same {
		t.Fatal("the draw was replaced early")
	}
	c.run(redrawAfter * time.Millisecond)
	if c.members[dec].View().ID != v.ID {
		t.Fatal("the view changed while the group rested")
	}
	p.mu.Lock()
	next := p.ahead.draw
	p.mu.Unlock()
	if next == nil || next == first || first.Nodes() != 0 || !next.For(p.cur.group) {
		t.Fatal("the draw was not replaced by a fresh one, the old one erased")
	}
}
