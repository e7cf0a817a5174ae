package secure

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// A group split into two of 2 and of 3 merges back, once healed, in one
// view change with one epoch: the absorbed side's coordinator admits the
// other before blocking (an admission alone), and the absorbing one still
// holds its roster when the merge round asks for it; nobody falls back to
// a view of itself.
func TestPartitionOfFiveMergesInOneViewChange(t *testing.T) {
	c := newCluster(t)
	c.form(5)
	addrs := func(idx ...int) []netip.AddrPort {
		var a []netip.AddrPort
		for _, i := range idx {
			a = append(a, transport.Addr(i))
		}
		return a
	}
	c.net.Partition(addrs(0, 1), addrs(2, 3, 4))
	c.runUntil(5*time.Second, "two groups", func() bool { return c.converged(0, 1) && c.converged(2, 3, 4) })
	if a, b := c.sameEpoch(0, 1), c.sameEpoch(2, 3, 4); a == b {
		t.Fatal("two groups apart share an epoch")
	}
	healed := make([]int, 5)
	for i := range healed {
		healed[i] = len(c.events[i])
	}
	start := c.now
	c.net.Heal()
	c.runUntil(5*time.Second, "the merge", func() bool { return c.converged(0, 1, 2, 3, 4) })
	took := c.now - start
	c.sameEpoch(0, 1, 2, 3, 4)
	final := c.members[0].View().ID
	for i := range healed {
		changes := 0
		for _, ev := range c.events[i][healed[i]:] {
			if ev.Kind != membership.ViewChange {
				continue
			}
			changes++
			if len(ev.View.Members) != 5 || ev.View.ID != final {
				t.Errorf("member %d went through %v", i, ev.View)
			}
		}
		if changes != 1 {
			t.Errorf("member %d: %d view changes, want 1", i, changes)
		}
	}
	t.Logf("merged in %v", took)
}

// A coordinator that holds no roster for a round's joiners contributes
// nothing: the decider refuses the joiner by name, for want of an entry,
// and does not take the empty contribution for a malformed one; a
// contribution that is there and malformed is still refused as such.
func TestDecideWithoutRosters(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	j := c.add(true)
	cur := c.members[0].View()
	dec := c.parts[c.index(cur.Members[0].Addr)].Participant
	next := cur.Clone()
	next.ID.LTime += 10
	next.Members = append(next.Members, c.members[j].Self())
	kp, _, err := c.parts[j].newKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := kp.Bytes()
	joiner := map[membership.Endpoint][]byte{c.members[j].Self(): kb}
	_, err = dec.Decide(cur, next, joiner, nil)
	if err == nil || !strings.Contains(err.Error(), "has no roster entry") || strings.Contains(err.Error(), "malformed") {
		t.Fatalf("without the coordinator's rosters: %v", err)
	}
	joiner[next.ID.Coord] = []byte{1}
	if _, err := dec.Decide(cur, next, joiner, nil); err == nil || !strings.Contains(err.Error(), "malformed roster") {
		t.Fatalf("with a malformed contribution: %v", err)
	}
}

// Secured members that start at once form one view, each turning its merge
// to another coordinator at most once per other member: a member waiting
// to be absorbed turns only to a view that ranks above the one it waits
// for (membership's TestMergeRedirectsClimb).
func TestLoneMembersMergeRedirectsClimb(t *testing.T) {
	c := newCluster(t)
	const n = 8
	for range n {
		c.add(true)
	}
	c.runUntil(5*time.Second, "forming", func() bool { return c.converged(seq(0, n)...) })
	c.sameEpoch(seq(0, n)...)
	for i := range n {
		if r := c.counter(i, "merges_redirected"); r > n-1 {
			t.Errorf("member %d redirected its merge %d times", i, r)
		}
	}
}

// An admission under way when its peer becomes a member of this member's
// view ends with the install: left running, it repeated handshake
// messages the peer dropped as a member's unsealed ones, then timed out as
// stalled and shunned a member of the view.
func TestAdmissionEndsWhenItsPeerIsAMember(t *testing.T) {
	c := newCluster(t)
	const n = 4
	for range n {
		c.add(true)
	}
	c.runUntil(5*time.Second, "forming", func() bool { return c.converged(seq(0, n)...) })
	c.run(2 * c.timing.Merge)
	if !c.converged(seq(0, n)...) {
		t.Fatalf("the group did not stay together:%s", c.describe())
	}
	for i := range n {
		// A handshake message in flight at the install may still come.
		if d := c.counter(i, "drop.unauthenticated_member.Handshake"); d > 2 {
			t.Errorf("member %d dropped %d handshake messages from members", i, d)
		}
		if s := c.counter(i, "admissions_stalled"); s != 0 {
			t.Errorf("member %d took %d admissions for stalled", i, s)
		}
	}
}
