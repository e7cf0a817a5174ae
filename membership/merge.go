package membership

import (
	"slices"
)

// Views find each other by probing. A coordinator that is not changing its
// view sends a Probe, every Timing.Probe, to a few addresses it knows of
// (its seeds, every member it has seen) that are not in its view; whoever
// gets one answers with a summary of its own view. When two coordinators
// learn of each other, the smaller view (fewer members, then the smaller
// coordinator) is absorbed: its coordinator flushes it (so that its members
// leave it having delivered the same messages), then asks the other
// coordinator with a MergeReq, and that coordinator runs a view change that
// takes the flushed members in as joiners. A process that starts is a view
// of one; joining the group is this same merge.

// probesPerRound bounds the addresses probed at each Timing.Probe.
const probesPerRound = 4

// maxPendingMerges bounds the merge requests a coordinator keeps.
const maxPendingMerges = 16

func (m *Member) tickProbe() {
	if m.coord != nil || m.part != nil || m.blocked || m.leaving || !m.isCoordinator() || m.now < m.nextProbe {
		return
	}
	m.nextProbe = m.now + m.jitter(m.cfg.Timing.Probe)
	msg := ctlMsg{Type: mProbe, Summary: m.summary()}
	sent := 0
	for range len(m.known) {
		if sent == probesPerRound {
			break
		}
		a := m.known[m.probeNext%len(m.known)]
		m.probeNext++
		if _, member := m.addrs[a]; member {
			continue
		}
		cp := msg
		m.sendCtlTo(a, &cp)
		sent++
	}
}

func (m *Member) onProbe(msg *ctlMsg) {
	m.learn(msg.From.Addr)
	if msg.Type == mProbe && !m.view.Has(msg.From) {
		reply := ctlMsg{Type: mProbeReply, Summary: m.summary()}
		m.sendCtlTo(msg.From.Addr, &reply)
	}
	other := msg.Summary
	if other.ID == m.view.ID || m.view.Has(other.Coord) || other.Coord.IsZero() || other.Size == 0 {
		return
	}
	if c := m.coord; c != nil && c.phase == cMergeWait && other.Coord != c.merge.Coord && absorbs(other, m.summary()) {
		// The view this one waits to join has been absorbed itself, or
		// was the wrong one to ask: ask the view that answered instead.
		m.count("merges_redirected")
		m.debug("merge redirected", "from", c.merge.ID, "to", other.ID)
		c.merge = other
		m.sendMergeReq()
		return
	}
	if m.coord != nil || m.part != nil || m.blocked || m.leaving || !m.isCoordinator() {
		return
	}
	m.learn(other.Coord.Addr)
	if absorbs(other, m.summary()) {
		m.count("merges_started")
		m.debug("found a view that absorbs this one", "other", other.ID, "size", other.Size)
		m.startRound(other)
		return
	}
	if msg.From != other.Coord {
		// Heard of the other view second hand: tell its coordinator, so
		// that it asks to be absorbed.
		m.sendCtlTo(other.Coord.Addr, &ctlMsg{Type: mProbe, Summary: m.summary()})
	}
}

func (m *Member) sendMergeReq() {
	c := m.coord
	c.sentAt = m.now
	msg := ctlMsg{Type: mMergeReq, View: c.merge.ID, Proposal: c.proposal}
	m.sendCtlTo(c.merge.Coord.Addr, &msg)
}

// onMergeReq takes a flushed view's request to be absorbed, as coordinator.
func (m *Member) onMergeReq(msg *ctlMsg) {
	// The request names the view it saw; this coordinator's view may have
	// changed since, which does not matter: the joiners consent to the
	// coordinator, not to a particular view.
	if !m.isCoordinator() || m.leaving {
		// Tell the requester where this view stands now: its summary
		// names the coordinator to ask instead.
		m.count("drop.merge_req")
		m.sendCtlTo(msg.From.Addr, &ctlMsg{Type: mProbeReply, Summary: m.summary()})
		return
	}
	theirs := Summary{ID: msg.Proposal.ID, Size: uint64(len(msg.Proposal.Members)), Coord: msg.From}
	if !absorbs(m.summary(), theirs) {
		m.count("drop.merge_req")
		m.debug("merge request from a view that should absorb this one", "from", msg.From)
		return
	}
	members := slices.DeleteFunc(slices.Clone(msg.Proposal.Members), func(e Endpoint) bool { return m.vetoed[e] || m.view.Has(e) })
	if len(members) == 0 {
		m.debug("merge request names no one new", "from", msg.From)
		return
	}
	m.debug("merge request", "from", msg.From, "members", members)
	i := slices.IndexFunc(m.merges, func(p pendingMerge) bool { return p.from == msg.From })
	pm := pendingMerge{from: msg.From, id: msg.Proposal.ID, members: members, at: m.now}
	switch {
	case i >= 0:
		m.merges[i] = pm
	case len(m.merges) < maxPendingMerges:
		m.merges = append(m.merges, pm)
	default:
		m.count("drop.merge_req_overflow")
		return
	}
	if m.coord == nil && m.part == nil {
		m.startRound(Summary{})
	}
}

// expireMerges forgets merge requests whose senders have given up waiting.
// A request whose members are joiners of the round under way stays: they
// stopped asking because they wait in that round, and a restart of the
// round must take them in again.
func (m *Member) expireMerges() {
	m.merges = slices.DeleteFunc(m.merges, func(p pendingMerge) bool {
		if c := m.coord; c != nil && slices.ContainsFunc(p.members, func(e Endpoint) bool { return slices.Contains(c.joiners, e) }) {
			return false
		}
		return m.now-p.at >= m.cfg.Timing.Merge
	})
}
