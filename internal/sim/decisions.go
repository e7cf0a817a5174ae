package sim

import (
	"slices"

	"github.com/conclave-go/conclave/membership"
)

// Decisions is what the Checker asks of a process's participant, the part
// of each member that takes part in view changes (membership.Participant):
// with one, a view change prepares a decision (the secure participant's
// commit of a new key epoch), every member of the next view processes it
// and confirms, and only then does any member install the view, all with
// the same epoch or none. membership/secure's Participant implements it.
type Decisions interface {
	// EpochDigest returns a fingerprint of the epoch secret the process
	// installed with view id (never the secret), and whether it holds
	// one.
	EpochDigest(id membership.ViewID) ([32]byte, bool)
	// Confirmed reports whether the process processed the decision of
	// view id and confirmed it.
	Confirmed(id membership.ViewID) bool
}

// Participant records that process p takes part in view changes through
// d. The Checker then holds each view p installs to what Decisions says:
// p installed the view with an epoch; every member that installs the view
// installed the same epoch; every member of the view confirmed it before
// anyone installed it; and p holds the epoch of no view it did not
// install (Finish, and at every installation).
func (c *Checker) Participant(p int, d Decisions) { c.procs[p].decisions = d }

// Outsider records a participant that is no process of the group (an
// attacker that holds keys of its own): it must hold the epoch of no view
// of the group, and no epoch it holds may equal one of the group's.
func (c *Checker) Outsider(name string, d Decisions) {
	c.outsiders = append(c.outsiders, outsider{name: name, d: d})
}

type outsider struct {
	name string
	d    Decisions
}

// checkDecision checks process p's installation of v against the
// participants' records.
func (c *Checker) checkDecision(p int, v *viewRecord) {
	d := c.procs[p].decisions
	if d == nil {
		return
	}
	vs := c.viewString(v.id, v.members)
	fp, ok := d.EpochDigest(v.id)
	if !ok {
		c.violate("member %d: installed %s without an epoch", p, vs)
		return
	}
	if v.decided {
		if fp != v.decision {
			c.violate("member %d: installed %s with epoch %x, member %d with %x", p, vs, fp[:8], v.decider, v.decision[:8])
		}
		return
	}
	v.decided, v.decision, v.decider = true, fp, p
	if q, dup := c.digests[fp]; dup {
		c.violate("member %d: installed %s with the epoch of %s", p, vs, c.viewIDString(q))
	} else {
		c.digests[fp] = v.id
	}
	if who, ok := c.derived[fp]; ok {
		c.violate("%s: derived the epoch of view %s", who, c.viewIDString(v.id))
	}
	// The first installation: every member must have confirmed by now,
	// for the coordinator orders the installation only once all have.
	for _, e := range v.members {
		q, ok := c.byEndpoint[e]
		if !ok {
			continue // checkConsent reports it
		}
		if dq := c.procs[q].decisions; dq != nil && !dq.Confirmed(v.id) {
			c.violate("member %d: installed %s, whose epoch member %d never confirmed%s", p, vs, q, c.procs[q].status())
		}
	}
}

// checkHeld checks that no process holds the epoch of view v unless it
// installed v or is a member of it that confirmed it, and that no outsider
// holds it at all.
func (c *Checker) checkHeld(v *viewRecord) {
	for q, pc := range c.procs {
		// A member that confirmed v processed its commit: it holds the
		// epoch whether or not it lived to install it.
		if pc.decisions == nil || v.installedBy(q) || slices.Contains(v.members, pc.self) && pc.decisions.Confirmed(v.id) {
			continue
		}
		if _, ok := pc.decisions.EpochDigest(v.id); ok && !c.saidHeld(q, v.id) {
			in := "which it did not install"
			if !slices.Contains(v.members, pc.self) {
				in = "which it is not in"
			}
			c.violate("member %d: holds the epoch of %s, %s", q, c.viewString(v.id, v.members), in)
		}
	}
	for _, o := range c.outsiders {
		if _, ok := o.d.EpochDigest(v.id); ok && !c.saidHeld(-1, v.id) {
			c.violate("%s: holds the epoch of %s", o.name, c.viewString(v.id, v.members))
		}
	}
}

// saidHeld reports whether the violation of p holding the epoch of id was
// reported already (p is -1 for outsiders), and notes it.
func (c *Checker) saidHeld(p int, id membership.ViewID) bool {
	k := heldKey{p, id}
	if c.held[k] {
		return true
	}
	c.held[k] = true
	return false
}

type heldKey struct {
	proc int
	view membership.ViewID
}

// installedBy reports whether process p installed v.
func (v *viewRecord) installedBy(p int) bool {
	for _, in := range v.installs {
		if in.proc == p {
			return true
		}
	}
	return false
}

// Derived records that an attacker (who) derived an epoch whose digest is
// d: it must be no epoch of the group's, whether a member installs it
// before or after.
func (c *Checker) Derived(who string, d [32]byte) {
	if v, ok := c.digests[d]; ok {
		c.violate("%s: derived the epoch of view %s", who, c.viewIDString(v))
		return
	}
	if c.derived == nil {
		c.derived = make(map[[32]byte]string)
	}
	if _, dup := c.derived[d]; !dup {
		c.derived[d] = who
	}
}

// checkHeldAll runs checkHeld on every view, at the end of a run: a
// process may have gained an epoch after the view's installations.
func (c *Checker) checkHeldAll() {
	for _, v := range c.viewList {
		if v.decided {
			c.checkHeld(v)
		}
	}
}

// Decided is the number of views whose epoch was checked.
func (c *Checker) Decided() int {
	n := 0
	for _, v := range c.viewList {
		if v.decided {
			n++
		}
	}
	return n
}
