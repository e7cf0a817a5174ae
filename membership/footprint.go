package membership

// Footprint is the number of entries the membership protocol holds in the
// state that datagrams from others can make grow: known addresses, merge
// requests and the members they name, vetoed endpoints, shunned addresses,
// and the view change
// under way (its members, joiners, replies, progress notes and cookies),
// the member's own part in one, the members yet to acknowledge an
// installation, messages being reassembled, admissions under way,
// pairwise sealings and vetoed identities. It never exceeds FootprintBound; the simulator's adversary
// checks that after its attacks. The stack's state is not counted here.
func (m *Member) Footprint() int {
	n := len(m.known.addrs) + len(m.vetoOrder) + len(m.shunned.entries)
	for _, pm := range m.merges {
		n += 1 + len(pm.members)
	}
	if c := m.coord; c != nil {
		n += len(c.survivors) + len(c.joiners) + len(c.proposal.Members) +
			len(c.replies) + len(c.synced) + len(c.progress) + len(c.cookies)
	}
	if p := m.part; p != nil {
		n += len(p.survivors) + len(p.proposal.Members)
	}
	if a := m.announce; a != nil {
		n += len(a.pending)
	}
	if c := m.coord; c != nil {
		n += len(c.confirmed)
	}
	n += len(m.reassembly.msgs) + len(m.admissions) + len(m.pairs) + len(m.identities) + len(m.vetoIDOrder)
	return n
}

// FootprintBound is the most Footprint can be, whatever others send: the
// bounds in doc.go, added up.
func (m *Member) FootprintBound() int {
	return len(m.cfg.Seeds) + maxKnown + // known list
		maxVetoed + // vetoes
		maxShunned + // peers that stalled merges
		maxPendingMerges*(1+MaxMembers) + // merge requests
		9*MaxMembers + // a round: survivors, joiners, proposal, 2× replies, synced, 2× progress, cookies
		2*MaxMembers + // a part in a round: survivors, proposal
		2*MaxMembers + // an announcement: the survivors and joiners of the round
		MaxMembers + // confirmations of a decision
		maxReassemblies + maxAdmissions + maxPairs + (maxPairs + 1) + maxVetoed
}
