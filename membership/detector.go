package membership

import "time"

// detector is the failure detector: a member not heard from for
// Timing.Suspect is suspected. Every datagram counts as a sign of life;
// within a view the stability layer's gossip keeps them coming.
//
// A member reports its suspicions to the coordinator, and the coordinator
// believes them (Ensemble's slander): one suspicion is enough to start a
// view change, and a wrongly excluded member comes back by merging.
type detector struct {
	last       []time.Duration // by rank: when last heard from
	suspects   []bool          // by rank: this member's own suspicions
	slandered  []bool          // by rank: suspicions reported by others (coordinator)
	leaving    []bool          // by rank: asked to leave (coordinator)
	lastReport time.Duration
}

func (d *detector) reset(n int, now time.Duration) {
	d.last = make([]time.Duration, n)
	for i := range d.last {
		d.last[i] = now
	}
	d.suspects = make([]bool, n)
	d.slandered = make([]bool, n)
	d.leaving = make([]bool, n)
}

func (d *detector) heard(r int, now time.Duration) {
	d.last[r] = now
}

// hearAll counts every member as heard from now.
func (d *detector) hearAll(now time.Duration) {
	for i := range d.last {
		d.last[i] = max(d.last[i], now)
	}
}

func (d *detector) suspected(r int) bool { return d.suspects[r] }

// excluded reports whether the coordinator should leave rank r out of the
// next view's survivors.
func (d *detector) excluded(r int) bool { return d.suspects[r] || d.slandered[r] }

// tickDetector raises suspicions and acts on them: a coordinator starts a
// view change, anyone else tells the coordinator.
func (m *Member) tickDetector() {
	if m.deaf {
		m.fd.hearAll(m.now)
		return
	}
	fresh := false
	for r := range m.view.Members {
		if r != m.rank && !m.fd.suspects[r] && m.now-m.fd.last[r] >= m.cfg.Timing.Suspect {
			m.fd.suspects[r] = true
			m.count("suspicions")
			m.debug("suspect", "member", m.view.Members[r], "silent_for", m.now-m.fd.last[r])
			fresh = true
		}
	}
	m.actOnSuspicion(fresh)
}

// actOnSuspicion starts or restarts a view change when this member is the
// coordinator, and otherwise reports its suspicions to the coordinator (at
// once when fresh, then every Timing.Retry while they last).
func (m *Member) actOnSuspicion(fresh bool) {
	any := false
	for r := range m.view.Members {
		any = any || m.fd.suspects[r]
	}
	if !any {
		return
	}
	if m.isCoordinator() {
		if fresh {
			m.changeNow()
		}
		return
	}
	if fresh || m.now-m.fd.lastReport >= m.cfg.Timing.Retry {
		m.fd.lastReport = m.now
		msg := ctlMsg{Type: mSuspect, View: m.view.ID}
		for r, s := range m.fd.suspects {
			if s {
				msg.Suspects = append(msg.Suspects, m.view.Members[r])
			}
		}
		m.sendCtl(m.view.Members[m.coordinatorRank()], &msg)
	}
}

// onSuspect takes a member's report of suspicions. The report goes to the
// member its sender takes for the coordinator; when that is this member
// because the sender suspects those ranked before it, this member believes
// it (Ensemble's slander) and takes over.
func (m *Member) onSuspect(msg *ctlMsg) {
	if msg.View != m.view.ID || !m.view.Has(msg.From) {
		return
	}
	for _, e := range msg.Suspects {
		if r := m.view.Rank(e); r >= 0 && r < m.rank && !m.fd.suspects[r] {
			m.fd.suspects[r] = true
			m.count("suspicions.reported")
		}
	}
	if !m.isCoordinator() {
		return
	}
	fresh := false
	for _, e := range msg.Suspects {
		if r := m.view.Rank(e); r >= 0 && r != m.rank && !m.fd.excluded(r) {
			m.fd.slandered[r] = true
			m.debug("told of a failure", "member", e, "by", msg.From)
			fresh = true
		}
	}
	if fresh {
		m.changeNow()
	}
}

// requestLeave asks the coordinator to run a view change without this
// member, or runs it when this member is the coordinator.
func (m *Member) requestLeave() {
	if m.isCoordinator() {
		if !m.fd.leaving[m.rank] {
			m.fd.leaving[m.rank] = true
			m.changeNow()
		}
		return
	}
	if m.now-m.fd.lastReport >= m.cfg.Timing.Retry || m.fd.lastReport == 0 {
		m.fd.lastReport = m.now
		m.sendCtl(m.view.Members[m.coordinatorRank()], &ctlMsg{Type: mLeave, View: m.view.ID})
	}
}

// onLeave takes a member's request to leave, as coordinator.
func (m *Member) onLeave(msg *ctlMsg) {
	if msg.View != m.view.ID || !m.isCoordinator() {
		return
	}
	if r := m.view.Rank(msg.From); r >= 0 && !m.fd.leaving[r] {
		m.fd.leaving[r] = true
		m.changeNow()
	}
}

// Suspect makes this member suspect e, as if its failure detector had: the
// coordinator is told (or, at the coordinator, a view change starts). An
// administrator evicts a member this way; a member that is in fact alive
// comes back by merging, unless admission keeps it out.
func (m *Member) Suspect(e Endpoint) {
	m.Continue()
	r := m.view.Rank(e)
	if r < 0 || r == m.rank || m.role == roleLeft {
		return
	}
	if !m.fd.suspects[r] {
		m.fd.suspects[r] = true
		m.count("suspicions")
		m.actOnSuspicion(true)
	}
	m.settle()
}

// changeNow starts a view change at once for news that calls for one (a
// suspicion, a leave), or restarts the one under way so that it takes the
// news into account; a round that has flushed this view to be absorbed by
// another is left to finish.
func (m *Member) changeNow() {
	switch {
	case m.coord != nil && m.coord.phase != cMergeWait:
		m.restartRound()
	case m.coord == nil && m.idleOrOrphaned() && m.role != roleLeft && m.isCoordinator():
		m.startRound(Summary{})
	}
}

// idleOrOrphaned reports whether this member takes part in no view change,
// or in one of this view whose coordinator it now suspects: a round that
// will never finish, which the member's own round replaces.
func (m *Member) idleOrOrphaned() bool {
	p := m.part
	if p == nil {
		return true
	}
	r := m.view.Rank(p.coord)
	return !p.joiner && r >= 0 && r != m.rank && m.fd.suspected(r)
}
