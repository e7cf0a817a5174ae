package secure

import (
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// A member at rest works ahead on what its next view change would do on
// the critical path (membership.Idler), one bounded piece per call:
//
//  1. The member that would decide the next view of the same members
//     (Decider: the oldest path) draws its next commit's path ahead
//     (keying.Group.DrawPath): the leaf key pair and a node key pair per
//     level, an X25519 scalar multiplication each, which nothing in the
//     view change changes. Its commit (decideCommit) takes the draw if it
//     is still of the installed epoch and leaf, and erases it otherwise;
//     installing an epoch erases a draw of the one before.
//
//     A commit heals a compromise of its committer (post-compromise
//     security) only with randomness the attacker did not see: a draw
//     that sat in memory when the member's state leaked does not. So a
//     draw is replaced by a fresh one after redrawAfter calls (a second
//     at the default 1 ms tick), which costs a draw a second at rest and
//     limits what a leak of the member's memory gives beyond the epoch it
//     is in to a commit made within that time.
//  2. Otherwise it derives the pairwise keys the round's replies will be
//     authenticated with (pairwise.go), a few per call: the coordinator's
//     with every member, every member's with the coordinator. They go
//     through the view's authenticator, so that the round finds them
//     there and in the cache.

// ahead is what a participant did ahead of its next view change.
type ahead struct {
	draw *keying.PathDraw // the next commit's path
	age  int              // Idle calls since draw was drawn
	used int              // commits made with a draw, for tests
}

// redrawAfter is the number of Idle calls after which a draw is replaced.
const redrawAfter = 1000

// idlePairs bounds the pairwise keys derived in one Idle call: a DH each,
// some 35 µs with X25519, so that a tick is not held up for long.
const idlePairs = 2

// Idle implements membership.Idler.
func (p *Participant) Idle(id membership.ViewID) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.cur
	if st == nil || st.view.ID != id || p.commit != nil {
		return
	}
	v := st.view
	if p.ahead.draw.For(st.group) {
		p.ahead.age++
	}
	if !p.ahead.draw.For(st.group) || p.ahead.age >= redrawAfter {
		p.dropDraw()
		if p.decider(v, v) == p.self {
			d, err := st.group.DrawPath(p.cfg.Rand)
			if err != nil {
				p.cfg.Logger.Warn("drawing the next commit's path ahead failed", "self", p.self, "view", v.ID, "err", err)
				return
			}
			p.ahead.draw, p.ahead.age = d, 0
			return
		}
	}
	p.warmPairs(v)
}

// dropDraw erases the path drawn ahead, if any.
func (p *Participant) dropDraw() {
	p.ahead.draw.Destroy()
	p.ahead.draw = nil
}

// dropStaleDraw erases the path drawn ahead unless it is still of the
// installed epoch and this member's leaf in it.
func (p *Participant) dropStaleDraw() {
	if p.ahead.draw != nil && (p.cur == nil || !p.ahead.draw.For(p.cur.group)) {
		p.dropDraw()
	}
}

// prepareCommit prepares g's commit of proposals and exts with the path
// drawn ahead if it is g's, or drawn now from the configured randomness.
// Either way no draw is left.
func (p *Participant) prepareCommit(g *keying.Group, proposals []keying.Proposal, exts []keying.Extension) (*keying.CommitResult, *keying.PendingCommit, error) {
	d := p.ahead.draw
	p.ahead.draw = nil
	if d.For(g) {
		p.ahead.used++
		return g.PrepareCommitDrawn(proposals, exts, d)
	}
	d.Destroy()
	return g.PrepareCommit(proposals, exts, p.cfg.Rand)
}

// warmPairs derives up to idlePairs of the pairwise keys of view v that
// this member's next round needs and does not have yet: with every member
// at the coordinator (rank 0), with the coordinator at every other member.
func (p *Participant) warmPairs(v membership.View) {
	a := p.installedAuthenticator(v.ID)
	if a == nil || a.priv == nil {
		return
	}
	peers := []int{0}
	if a.rank == 0 {
		peers = nil
		for r := 1; r < len(a.encs); r++ {
			peers = append(peers, r)
		}
	}
	work := 0
	for _, r := range peers {
		if r == a.rank || a.pair[r] != nil {
			continue
		}
		before := p.pairs.derived()
		// A failed derivation counts as work too: it is tried again
		// on a later call, never more than idlePairs per call.
		if a.pairKey(r) == nil || p.pairs.derived() != before {
			work++
		}
		if work == idlePairs {
			return
		}
	}
}

// installedAuthenticator is the live authenticator of installed view id,
// the newest if membership asked for several.
func (p *Participant) installedAuthenticator(id membership.ViewID) *authenticator {
	for i := len(p.auths) - 1; i >= 0; i-- {
		if a := p.auths[i]; a.view == id && !a.processed && !a.dead {
			return a
		}
	}
	return nil
}

// derived is the number of DH computations the cache made.
func (c *pairCache) derived() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.dhs
}

var _ membership.Idler = (*Participant)(nil)
