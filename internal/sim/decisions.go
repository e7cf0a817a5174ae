package sim

import "github.com/conclave-go/conclave/membership"

// Decisions is what the Checker asks of a process's participant, the part
// of each member that takes part in view changes (membership.Participant):
// with one, a view change prepares a decision, every member of the next
// view processes it and confirms, and only then does any member install
// the view, all with the same decision or none.
type Decisions interface {
	// Decision returns a fingerprint of the decision the process
	// installed with view id, and whether it installed one.
	Decision(id membership.ViewID) (fingerprint uint64, ok bool)
	// Confirmed reports whether the process processed the decision of
	// view id and confirmed it.
	Confirmed(id membership.ViewID) bool
}

// Participant records that process p takes part in view changes through
// d. The Checker then holds each view p installs to what Decisions says:
// p installed the view with a decision; every member that installs the
// view installed the same decision; every member of the view confirmed
// it before anyone installed it.
func (c *Checker) Participant(p int, d Decisions) { c.procs[p].decisions = d }

// checkDecision checks process p's installation of v against the
// participants' records.
func (c *Checker) checkDecision(p int, v *viewRecord) {
	d := c.procs[p].decisions
	if d == nil {
		return
	}
	vs := c.viewString(v.id, v.members)
	fp, ok := d.Decision(v.id)
	if !ok {
		c.violate("member %d: installed %s without a decision", p, vs)
		return
	}
	if v.decided {
		if fp != v.decision {
			c.violate("member %d: installed %s with decision %016x, member %d with %016x", p, vs, fp, v.decider, v.decision)
		}
		return
	}
	v.decided, v.decision, v.decider = true, fp, p
	// The first installation: every member must have confirmed by now,
	// for the coordinator orders the installation only once all have.
	for _, e := range v.members {
		q, ok := c.byEndpoint[e]
		if !ok {
			continue // checkConsent reports it
		}
		if dq := c.procs[q].decisions; dq != nil && !dq.Confirmed(v.id) {
			c.violate("member %d: installed %s, whose decision member %d never confirmed%s", p, vs, q, c.procs[q].status())
		}
	}
}

// Decided is the number of views whose decision was checked.
func (c *Checker) Decided() int {
	n := 0
	for _, v := range c.viewList {
		if v.decided {
			n++
		}
	}
	return n
}
