package membership

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// TestOutsidersClaimingLargerViewsDoNotKeepLoneMembersApart has outsiders,
// each from an address of its own, lure two lone secured members over and
// over: each fetches a cookie at its own address, echoes it, and claims a
// view of MaxMembers that would absorb the member's; it never absorbs
// anyone. Waiting to be absorbed by such a view, a member would answer no
// merge request, and the next outsider's claim would start the wait again
// once the last one ran out. The two members must still merge with each
// other within a bound of a few merge attempts: with a participant,
// nobody waits for a coordinator that has not authenticated.
func TestOutsidersClaimingLargerViewsDoNotKeepLoneMembersApart(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	sent := c.record()
	a, b := transport.Addr(0), transport.Addr(1)
	apart := true
	c.drop = func(from, to netip.AddrPort, _ []byte) bool {
		return apart && (from == a && to == b || from == b && to == a)
	}
	c.add()
	c.add()

	outsider := 0
	lure := func(i int) {
		c.lure(t, i, stranger(outsider), sent)
		outsider++
	}
	// Both are lured while they cannot hear each other, then all the
	// time once they can.
	for range 5 {
		lure(0)
		lure(1)
		c.run(c.timing.Retry)
	}
	apart = false
	limit := 3 * c.timing.Merge
	for bound := c.now + limit; !c.converged(0, 1); {
		if c.now >= bound {
			t.Fatalf("after %v of outsiders' claims, the two lone members did not merge: %s (merges started %d, %d)",
				limit, c.describe(), c.members[0].counters["merges_started"], c.members[1].counters["merges_started"])
		}
		lure(0)
		lure(1)
		c.run(c.timing.Retry)
	}
	for i, m := range c.members {
		if m.counters["admissions_asked"] == 0 {
			t.Errorf("member %d never asked an outsider for admission: the outsiders' claims were not tested", i)
		}
	}
	if _, d := bytesTo(*sent, stranger(0).Addr); d == 0 {
		t.Fatal("nothing was sent to the outsiders: the test did not test their claims")
	}
}

// lure has outsider s claim to member i a view of MaxMembers that would
// absorb any other: s fetches a cookie at its own address and echoes it,
// as the member's challenge asks, and gives a cookie of its own.
func (c *cluster) lure(t *testing.T, i int, s Endpoint, sent *[]sentPacket) {
	t.Helper()
	big := Summary{ID: ViewID{LTime: 1, Coord: s}, Size: MaxMembers, Coord: s}
	c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: big}))
	cookie := cookieIn(t, *sent, s.Addr)
	c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: mProbeReply, From: s, Summary: big,
		Echo: cookie, Cookie: bytes.Repeat([]byte{7}, cookieLen)}))
}

// TestOutsidersDoNotRedirectAViewWaitingToBeAbsorbed has two secured
// views of two members merge after a partition heals, while outsiders,
// each from an address of its own, keep claiming to every member a view
// of MaxMembers that would absorb both. A coordinator waiting to be
// absorbed by the other view would follow such a claim to its outsider,
// and wait there for Timing.Merge; the views must merge within a bound
// of a few merge attempts: nobody follows a coordinator that has not
// authenticated.
func TestOutsidersDoNotRedirectAViewWaitingToBeAbsorbed(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	sent := c.record()
	apart := true
	side := func(a netip.AddrPort) bool { return c.index(a) >= 2 }
	c.drop = func(from, to netip.AddrPort, _ []byte) bool {
		return apart && c.index(to) < 4 && side(from) != side(to)
	}
	for range 4 {
		c.add()
	}
	c.runUntil(2*time.Second, "two views of two", func() bool { return c.converged(0, 1) && c.converged(2, 3) })

	apart = false
	outsider := 0
	limit := 3 * c.timing.Merge
	for bound := c.now + limit; !c.converged(all(4)...); {
		if c.now >= bound {
			t.Fatalf("after %v of outsiders' claims, the two views did not merge: %s", limit, c.describe())
		}
		for i := range 4 {
			c.lure(t, i, stranger(outsider), sent)
			outsider++
		}
		c.run(c.timing.Retry)
	}
}
