package secure

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
)

var _ membership.EarlyDecider = (*Participant)(nil)

// The secure participant's survivors contribute nothing: its rounds, a
// crash, a rekey and a join, are decided beside the flush, none falls
// back to a late decision, and each installs one epoch everywhere.
func TestRoundsDecidedBesideTheFlush(t *testing.T) {
	const n = 5
	c := newCluster(t)
	c.form(n)
	early := func() (asked, fallbacks uint64) {
		for i := range c.members {
			if !c.crashed[i] {
				asked += c.counter(i, "decided_early")
				fallbacks += c.counter(i, "early_decision_fallbacks")
			}
		}
		return asked, fallbacks
	}
	round := func(what string, live []int, start func(coord int)) {
		t.Helper()
		v := c.members[live[0]].View()
		coord := c.index(v.Members[0].Addr)
		before, _ := early()
		start(coord)
		c.runUntil(2*time.Second, what, func() bool { return c.converged(live...) && c.members[live[0]].View().ID != v.ID })
		c.sameEpoch(live...)
		if after, fallbacks := early(); after <= before || fallbacks != 0 {
			t.Fatalf("%s: %d rounds decided early (%d before), %d fallbacks", what, after, before, fallbacks)
		}
	}
	round("a rekey", seq(0, n), func(coord int) { c.members[coord].Rekey() })
	c.crash(n - 1)
	round("the survivors' view", seq(0, n-1), func(coord int) { c.members[coord].Suspect(c.members[n-1].Self()) })
	j := c.add(true)
	round("a join", append(seq(0, n-1), j), func(int) {})
}
