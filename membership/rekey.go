package membership

// A rekey round is a view change that changes nothing but the view id: the
// same members flush and, with a participant, agree on a new decision (for
// the key layers, a fresh epoch). It is started by Rekey at any member
// (a member asks its coordinator with Rekey messages, one per Timing.Retry,
// until a new view is installed), or by a participant that implements
// Rekeyer, asked at the coordinator on each tick.

// Rekey asks for a rekey round. It returns at once; the round ends with a
// view of the same members under a new view id.
func (m *Member) Rekey() {
	m.Continue()
	if m.role == roleLeft || m.leaving {
		return
	}
	m.rekey, m.rekeyAt = true, m.now-m.cfg.Timing.Retry
	m.tickRekey()
	m.settle()
}

// tickRekey asks the participant whether a rekey is due, and repeats a
// member's request to its coordinator.
func (m *Member) tickRekey() {
	if m.part != nil || m.coord != nil || m.blocked {
		return
	}
	if r, ok := m.cfg.Participant.(Rekeyer); ok && !m.rekey && m.isCoordinator() && len(m.view.Members) > 0 && r.RekeyDue(m.view.Clone(), m.viewStats()) {
		m.rekey = true
		m.count("rekeys_due")
	}
	if !m.rekey {
		return
	}
	if m.isCoordinator() {
		if m.idleOrOrphaned() {
			m.startRound(Summary{})
		}
		return
	}
	if m.now-m.rekeyAt >= m.cfg.Timing.Retry {
		m.rekeyAt = m.now
		m.sendCtl(m.view.Members[m.coordinatorRank()], &ctlMsg{Type: mRekey, View: m.view.ID})
	}
}

// onRekey takes a member's request for a rekey round, at its coordinator.
func (m *Member) onRekey(msg *ctlMsg) {
	if msg.View != m.view.ID || !m.view.Has(msg.From) || !m.isCoordinator() {
		return
	}
	m.rekey = true
}

// viewStats is what this member saw of its current view.
func (m *Member) viewStats() ViewStats {
	return ViewStats{Age: m.now - m.stats.at, Messages: m.stats.messages, Bytes: m.stats.bytes}
}
