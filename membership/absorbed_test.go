package membership

import (
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// The members of a view absorbed in a merge, other than its coordinator,
// share no key with the absorbing coordinator until they have processed
// the merged view's decision: the end of the round (Confirm, Install)
// is sealed under that view, and nothing unsealed in the absorbing
// coordinator's name, or theirs, ends it.

// splitAndHeal forms a view of 5 with the MAC participant, splits it
// into views of 3 and 2, and heals the network: the two merge.
func splitAndHeal(t *testing.T) *cluster {
	t.Helper()
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	for range 5 {
		c.add()
	}
	c.runUntil(3*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	c.net.Partition([]netip.AddrPort{transport.Addr(0), transport.Addr(1), transport.Addr(2)},
		[]netip.AddrPort{transport.Addr(3), transport.Addr(4)})
	c.runUntil(5*time.Second, "two views", func() bool { return c.converged(0, 1, 2) && c.converged(3, 4) })
	// Each member joined the view of 5 by a handshake with its
	// coordinator, whose pairwise sealing it keeps: forgotten, as by
	// members of views that formed apart.
	for _, m := range c.members {
		clear(m.pairs)
	}
	c.net.Heal()
	return c
}

// absorbed returns a member taking part in a merge as a joiner that
// holds no pairwise sealing with the round's coordinator (a member of
// the absorbed view other than its coordinator), or -1.
func (c *cluster) absorbed(prepared bool) int {
	for i, m := range c.members {
		if p := m.part; p != nil && p.joiner && m.pairs[p.coord] == nil && p.prepared == prepared {
			return i
		}
	}
	return -1
}

// TestForgedInstallToAbsorbedMemberDropped injects, once a member of the
// absorbed view has processed the merged view's decision and before the
// absorbing coordinator has every confirmation, an Install in the
// coordinator's name, unsealed: the member must not install on it, and
// installs the merged view only with the others, on the real Install.
func TestForgedInstallToAbsorbedMemberDropped(t *testing.T) {
	c := splitAndHeal(t)
	// Every confirmation is lost until the forged Install has come: the
	// coordinator may not install yet.
	c.hold = time.Hour
	c.drop = func(_, _ netip.AddrPort, data []byte) bool {
		name, _ := ControlType(data, 42)
		return name == "Confirm" && c.now < c.hold
	}
	victim := -1
	c.runUntil(5*time.Second, "an absorbed member prepared", func() bool { victim = c.absorbed(true); return victim >= 0 })
	v := c.members[victim]
	round, coord := v.part.round, v.part.coord
	if cm := c.memberFor(coord); cm.coord == nil || cm.coord.proposal.ID != round {
		t.Fatalf("the coordinator is not running the round %v", round)
	}
	c.inject(victim, coord.Addr, encodeCtl(t, ctlMsg{Type: mInstall, From: coord, Round: round}))
	if v.view.ID == round {
		t.Fatal("an absorbed member installed the merged view on a forged Install, before every member confirmed it")
	}
	if v.counters["drop.unsealed_round.Install"] == 0 {
		t.Fatal("the forged Install was not counted")
	}
	c.hold = 0
	c.runUntil(5*time.Second, "the merged view", func() bool { return c.converged(all(5)...) })
	if got := c.members[0].view.ID; got != round {
		t.Fatalf("the merged view is %v, not the round the forged Install named (%v)", got, round)
	}
}

// TestForgedConfirmForAbsorbedMemberDoesNotCount has the absorbing
// coordinator receive, while a member of the absorbed view's own
// confirmations are lost, a Confirm in that member's name, unsealed: it
// must not count, and the member is still waited for.
func TestForgedConfirmForAbsorbedMemberDoesNotCount(t *testing.T) {
	c := splitAndHeal(t)
	victim := -1
	c.drop = func(from, _ netip.AddrPort, data []byte) bool {
		name, _ := ControlType(data, 42)
		return victim >= 0 && name == "Confirm" && from == transport.Addr(victim) && c.now < c.hold
	}
	c.runUntil(5*time.Second, "an absorbed member in the merge", func() bool { victim = c.absorbed(false); return victim >= 0 })
	c.hold = c.now + time.Hour
	v := c.members[victim]
	round, coordEP := v.part.round, v.part.coord
	cm := c.memberFor(coordEP)
	c.runUntil(5*time.Second, "the coordinator's prepare", func() bool {
		return cm.coord != nil && cm.coord.proposal.ID == round && cm.coord.phase == cPrepare
	})
	c.inject(c.index(coordEP.Addr), v.self.Addr, encodeCtl(t, ctlMsg{Type: mConfirm, From: v.self, Round: round, Data: []byte("ok")}))
	if cm.coord == nil || cm.coord.proposal.ID != round {
		t.Fatal("the round ended on a forged Confirm")
	}
	if cm.coord.confirmed[v.self] {
		t.Fatal("a forged Confirm in an absorbed member's name counted")
	}
	if cm.counters["drop.unsealed_round.Confirm"] == 0 {
		t.Fatal("the forged Confirm was not counted")
	}
	// Its real confirmations, once they pass, end the round.
	c.hold = 0
	c.runUntil(5*time.Second, "the merged view", func() bool { return c.converged(all(5)...) })
}
