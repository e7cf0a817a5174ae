package membership

import (
	"errors"
	"fmt"
	"github.com/conclave-go/conclave/layers"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

func TestMembersFindEachOther(t *testing.T) {
	c := newCluster(t, 5, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	t.Logf("converged at %v: %v", c.now, c.members[0].view)
}

func TestMulticastInView(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	for i, m := range c.members {
		for k := range 10 {
			m.Cast([]byte(fmt.Sprintf("%d-%d", i, k)))
			c.drain(i)
		}
	}
	c.run(50 * time.Millisecond)
	for i := range c.members {
		got := 0
		for _, ev := range c.events[i] {
			if ev.Kind == Message {
				got++
			}
		}
		if got != 30 {
			t.Errorf("member %d delivered %d of 30", i, got)
		}
	}
}

func TestCrashExcluded(t *testing.T) {
	for _, victim := range []int{0, 2} { // the coordinator, and another
		t.Run(fmt.Sprint(victim), func(t *testing.T) {
			c := newCluster(t, 4, transport.Faults{})
			c.runUntil(2*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
			before := c.members[1].view.ID
			c.crash(victim)
			rest := slices.DeleteFunc(all(4), func(i int) bool { return i == victim })
			c.runUntil(time.Second, "survivors agree", func() bool { return c.converged(rest...) && c.members[rest[0]].view.ID != before })
			if c.members[rest[0]].view.Has(c.members[victim].self) {
				t.Fatalf("crashed member still in %v", c.members[rest[0]].view)
			}
		})
	}
}

func TestLeave(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	c.members[0].Leave()
	c.drain(0)
	c.runUntil(time.Second, "the others agree without member 0", func() bool { return c.converged(1, 2) })
	if c.members[0].role != roleLeft {
		t.Fatal("member 0 has not left")
	}
}

func TestPartitionHeals(t *testing.T) {
	c := newCluster(t, 4, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
	a := []netip.AddrPort{c.members[0].self.Addr, c.members[1].self.Addr}
	b := []netip.AddrPort{c.members[2].self.Addr, c.members[3].self.Addr}
	c.net.Partition(a, b)
	c.runUntil(2*time.Second, "two sides", func() bool { return c.converged(0, 1) && c.converged(2, 3) })
	c.net.Heal()
	c.runUntil(3*time.Second, "merged", func() bool { return c.converged(all(4)...) })
}

// TestCrashUnderLoad crashes a member while every member multicasts: the
// survivors must still flush (their flow control windows must not wait for
// the dead member) and agree, having delivered the same messages.
func TestCrashUnderLoad(t *testing.T) {
	c := newCluster(t, 5, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	for round := range 50 {
		for i, m := range c.members {
			if c.crashed[i] {
				continue
			}
			for k := range 200 {
				m.Cast([]byte(fmt.Sprintf("%d-%d-%d", i, round, k)))
			}
			c.drain(i)
		}
		if round == 5 {
			c.crash(4)
		}
		c.run(2 * time.Millisecond)
	}
	c.runUntil(2*time.Second, "survivors agree", func() bool { return c.converged(0, 1, 2, 3) })
}

// TestJoinerKeptAcrossRestartedRound has a member fail while the view
// change that admits a joiner runs, after the joiner's merge request would
// have expired: the joiner waits in that round and no longer asks, so the
// restarted round must still take it in, rather than leave it waiting
// until it gives up (Timing.Stuck).
func TestJoinerKeptAcrossRestartedRound(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.timing.Merge = 20 * time.Millisecond // shorter than detecting the crash
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	victim := c.index(v.Members[2].Addr) // not the coordinator
	joiner := c.add()
	c.runUntil(c.timing.Suspect, "the joiner in a round", func() bool { return joiner.part != nil })
	c.crash(victim)
	rest := slices.DeleteFunc(all(4), func(i int) bool { return i == victim })
	c.runUntil(c.timing.Stuck, "the joiner admitted without the victim", func() bool { return c.converged(rest...) })
	for _, counter := range []string{"dismissed", "went_alone"} {
		if n := joiner.counters[counter]; n != 0 {
			t.Errorf("joiner: %s = %d, want 0", counter, n)
		}
	}
	if coord.counters["rounds_restarted"] == 0 {
		t.Error("the round was never restarted: the test did not test that")
	}
}

// TestRefusedJoinerDismissed checks that a joiner the coordinator leaves
// out of a round is told so and goes on alone at once, instead of waiting
// for Timing.Stuck in a round that will not take it.
func TestRefusedJoinerDismissed(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = refuseAll{self: cfg.Self} }
	for range 2 {
		c.add()
	}
	// Whichever of the two coordinates the merge refuses the other.
	dismissed := func() *Member {
		for _, m := range c.members {
			if m.counters["dismissed"] > 0 {
				return m
			}
		}
		return nil
	}
	c.runUntil(c.timing.Stuck/2, "a joiner dismissed", func() bool { return dismissed() != nil })
	if m := dismissed(); m.blocked || len(m.view.Members) != 1 {
		t.Fatalf("the dismissed joiner is in %v (blocked: %v), want a view of its own", m.view, m.blocked)
	}
}

// plain is the least a participant can be: a handshake of one message
// that names the initiator, empty decisions, confirmations and tags that
// are the member's endpoint, and no keys. (The real test participant is
// in package membershiptest, which tests of this package cannot import.)
type plain struct{}

type plainHandshake struct {
	initiator, done bool
	self, peer      Endpoint
}

func (h *plainHandshake) Create() ([]byte, bool, error) {
	h.done = true
	return []byte(h.self.String()), true, nil
}

func (h *plainHandshake) Consume(msg []byte) (bool, error) {
	if string(msg) != h.peer.String() {
		return false, errors.New("plain: not the peer")
	}
	h.done = true
	return true, nil
}

func (h *plainHandshake) Result() (Identity, []byte) {
	return Identity{Provider: "plain", Name: h.peer.String()}, make([]byte, 32)
}

func (plain) Handshake(initiator bool, self, peer Endpoint, _ []byte) (Handshake, error) {
	return &plainHandshake{initiator: initiator, self: self, peer: peer}, nil
}
func (plain) Start(Endpoint)                 {}
func (plain) Admit(Endpoint, Identity) error { return nil }
func (plain) Contribute(View) []byte         { return nil }
func (plain) Decider(_, next View) Endpoint  { return next.Members[0] }
func (plain) Decide(_, next View, _ map[Endpoint][]byte, _ map[Endpoint]Identity) (Decision, error) {
	return Decision{Common: []byte("ok")}, nil
}
func (plain) Process(View, []byte, []byte) ([]byte, error) { return []byte("ok"), nil }
func (plain) Verify(View, []byte, Endpoint, []byte) error  { return nil }
func (plain) Discard(View)                                 {}
func (plain) Install(View) (layers.Keys, error)            { return nil, nil }
func (plain) Authenticator(View, int) Authenticator        { return plainAuth{} }

type plainAuth struct{}

func (plainAuth) Seal(dst, _ []byte, _ Class) []byte { return append(dst, "tag"...) }
func (plainAuth) Open(_ int, _, tag []byte, _ Class) error {
	if string(tag) != "tag" {
		return errors.New("plain: bad tag")
	}
	return nil
}

// refuseAll is a participant whose members refuse every decision that
// would make them other than the first member of a view: no one can join.
type refuseAll struct {
	plain
	self Endpoint
}

func (r refuseAll) Process(next View, _, _ []byte) ([]byte, error) {
	if next.Rank(r.self) > 0 {
		return nil, errors.New("no one may join")
	}
	return []byte("ok"), nil
}

// TestNoViewChangeForNothing gives the coordinator a merge request that
// names only members already in its view (a late retransmission of a
// joiner's request, say): it must not run a view change that changes
// nothing, which would block every member for a round.
func TestNoViewChangeForNothing(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	coord.merges = append(coord.merges, pendingMerge{from: v.Members[2], id: v.ID, members: []Endpoint{v.Members[2]}, at: c.now})
	c.run(c.timing.Suspect)
	if got := c.members[0].view.ID; got != v.ID {
		t.Fatalf("view %v became %v for nothing", v.ID, got)
	}
	if len(coord.merges) != 0 {
		t.Fatalf("the useless merge request is kept: %v", coord.merges)
	}
}

// When every survivor of a view change is leaving, the coordinator keeps
// itself in the next view, the last to go: no view without members is
// proposed (a participant would be asked to decide one). The others leave
// through that view change, then it leaves alone.
func TestEverySurvivorLeavingKeepsTheCoordinator(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	coord := c.memberFor(c.members[0].view.Members[0])
	for _, m := range c.members {
		m.leaving, m.leftAt = true, m.now
	}
	for r := range coord.view.Members {
		coord.fd.leaving[r] = true
	}
	coord.startRound(Summary{})
	if coord.coord == nil {
		t.Fatal("no view change with every survivor leaving")
	}
	if p := coord.coord.proposal; !slices.Equal(p.Members, []Endpoint{coord.self}) {
		t.Fatalf("proposal with every survivor leaving: %v, want the coordinator alone", p)
	}
	c.runUntil(2*time.Second, "every member gone", func() bool {
		return !slices.ContainsFunc(c.members, func(m *Member) bool { return !m.Left() })
	})
	for i := range c.members {
		if n := c.members[i].counters["leave_timeout"]; n != 0 {
			t.Fatalf("member %d left only by giving up", i)
		}
	}
}
