package membership

import (
	"bytes"
	"net/netip"
	"slices"
)

// Views find each other by probing. A coordinator that is not changing its
// view sends a Probe, every Timing.Probe, to a few addresses it knows of
// (its seeds, members of views it was in, peers that proved their address;
// known.go) that are not in its view; whoever gets one answers at the
// probe's source with a summary of its own view. When two coordinators
// learn of each other, the smaller view (fewer members, then the smaller
// coordinator) is absorbed: its coordinator flushes it (so that its members
// leave it having delivered the same messages), then asks the other
// coordinator with a MergeReq, and that coordinator runs a view change that
// takes the flushed members in as joiners. A process that starts is a view
// of one; joining the group is this same merge.
//
// No address is trusted before it proves that it receives (stranger.go,
// cookie.go):
//
//	A (absorbed)                                  B (absorbs)
//	Probe{cookie_A(B)}                  ──▶
//	                                    ◀──  ProbeReply{echo cookie_A(B),
//	                                                    cookie_B(A)}
//	A checks the echo: B's address is proven; A blocks and flushes.
//	Sync{merge: B} to A's members; each member a:
//	Probe{cookie_a(B)}                  ──▶
//	                                    ◀──  ProbeReply{echo, cookie_B(a)}
//	SyncOK{cookie_B(a)} to A's coordinator
//	MergeReq{members, cookie_B(a) each} ──▶  B checks every cookie (no
//	                                         state needed: cookies are MACs);
//	                                         only now does B block, and it
//	                                         flushes only proven members
//
// When B probes first, A answers with a Probe of its own (a challenge)
// rather than a ProbeReply, and B's answer to that proves B. A Probe from a
// stranger that claims a larger view thus costs one answer at its source
// and blocks nobody; a MergeReq naming addresses that have not each fetched
// a cookie from B makes B send nothing to them. A summary naming a
// coordinator other than its sender is believed only from a seed or a
// member of a view this member was in, that proved its address, and then
// only adds that coordinator to the known list (known.go): it is probed in
// turn, at the probing rate, like any other. A peer that proved its
// address but stalls the merge it started is shunned for a while
// (shun.go).

// What a probe tells. A summary goes to addresses outside the view, to
// strangers among them, before anyone is authenticated. Without a
// participant it is the view as it is: its id, its size, its coordinator.
// With one (a secure group), it tells only what a merge needs, and nothing
// of the membership: the coordinator's endpoint, where a merge request
// goes, and an opaque ordering key in place of the size, 1 for a view of
// one member and 2 for any larger view, so that a process that starts is
// absorbed by the group and not the reverse; the view id is replaced by
// one made of the coordinator alone (the merged view's logical time comes
// from the merge request, merge.go, not from the summary). Two views of
// more than one member then merge in the order of their coordinators,
// whatever their sizes, which costs the larger one's members a join when
// it is the one absorbed. A merge request compares the same keys.

// orderKey is the ordering key of a view of n members in summaries.
func (m *Member) orderKey(n uint64) uint64 {
	if m.cfg.Participant == nil {
		return n
	}
	return min(n, 2)
}

// summary is what this member tells outsiders of its view.
func (m *Member) summary() Summary {
	coord := m.view.Members[m.coordinatorRank()]
	s := Summary{ID: m.view.ID, Size: m.orderKey(uint64(len(m.view.Members))), Coord: coord}
	if m.cfg.Participant != nil {
		s.ID = ViewID{LTime: 1, Coord: coord}
	}
	return s
}

// probesPerRound bounds the addresses probed at each Timing.Probe.
const probesPerRound = 4

// maxPendingMerges bounds the merge requests a coordinator keeps.
const maxPendingMerges = 16

func (m *Member) tickProbe() {
	if m.coord != nil || m.part != nil || m.blocked || m.leaving || !m.isCoordinator() || m.now < m.nextProbe {
		return
	}
	m.nextProbe = m.now + m.jitter(m.cfg.Timing.Probe)
	sent := 0
	for range len(m.known.addrs) {
		if sent == probesPerRound {
			break
		}
		a := m.known.addrs[m.probeNext%len(m.known.addrs)].addr
		m.probeNext++
		if _, member := m.addrs[a]; member {
			continue
		}
		m.sendProbe(a, mProbe, nil)
		sent++
	}
}

// sendProbe sends a Probe or ProbeReply to addr with this member's cookie
// for addr, echoing echo (addr's cookie for this member) if it is one.
func (m *Member) sendProbe(addr netip.AddrPort, typ msgType, echo []byte) {
	if len(echo) != cookieLen {
		echo = nil
	}
	msg := ctlMsg{Type: typ, Summary: m.summary(), Cookie: m.cookies.issue(nil, addr, m.now), Echo: echo}
	m.sendCtlTo(addr, &msg)
}

func (m *Member) onProbe(msg *ctlMsg) {
	from := msg.From.Addr
	// echoed: the sender returned the cookie this member sent to its
	// address, so it receives there.
	echoed := m.cookies.verify(msg.Echo, from, m.now)
	// vouched: the sender receives at its address and is a seed or was a
	// member with this one; what it names is worth a probe. With a
	// participant only the echo proves that: probes are not sealed, and
	// anyone can send one from a member's address.
	vouched := (echoed || m.cfg.Participant == nil && m.peerAddr(from)) && m.known.vouches(from)
	if echoed {
		m.inbound.active = false // no stranger any more: it proved its address
	}
	other := msg.Summary
	valid := other.ID != m.view.ID && !m.view.Has(other.Coord) && !other.Coord.IsZero() && other.Size > 0
	theyAbsorb := valid && absorbs(other, m.summary())
	free := m.coord == nil && m.part == nil && !m.blocked && !m.leaving && m.isCoordinator()
	if msg.Type == mProbe && !m.view.Has(msg.From) {
		typ := mProbeReply
		if free && theyAbsorb && other.Coord == msg.From && !echoed {
			// This view is to be absorbed by the sender's, which has
			// not proven its address: challenge it back.
			typ = mProbe
		}
		m.sendProbe(from, typ, msg.Cookie)
	}
	if p := m.part; p != nil && echoed && msg.From == p.merge.Coord && len(msg.Cookie) == cookieLen {
		m.gotMergeCookie(msg.Cookie)
	}
	if !valid {
		return
	}
	if vouched && other.Coord != msg.From {
		// Probed in turn, at the probing rate, like any other; and at
		// once when it would absorb this view (a process that starts
		// finds the coordinator through a seed that is not), at most
		// once per Timing.Retry.
		m.learn(other.Coord.Addr, knownNamed)
		if free && theyAbsorb && m.now-m.namedProbeAt >= m.cfg.Timing.Retry {
			m.namedProbeAt = m.now
			m.sendProbe(other.Coord.Addr, mProbe, nil)
		}
	}
	if c := m.coord; c != nil && c.phase == cMergeWait && other.Coord != c.merge.Coord && theyAbsorb && absorbs(other, c.merge) && (echoed || vouched) {
		// Only a view that would absorb the one this view waits to join
		// is asked instead: any view that absorbs this one may answer
		// (every lone member's does, for the smallest), and following
		// each in turn sends merge requests to several coordinators,
		// which each start a round this view has left and wait
		// Timing.Flush for it, while it never stays long enough to be
		// taken in.
		if echoed && msg.From == other.Coord {
			if m.cfg.Participant != nil && !m.freshPair(other.Coord) {
				// Only to a coordinator that authenticated
				// (admission.go): this view goes on waiting for
				// the one it asked meanwhile.
				if !m.shunned.shuns(other.Coord.Addr, m.now) {
					m.askAdmission(other, msg.Cookie)
				}
				return
			}
			m.redirectMerge(other)
			return
		}
		if vouched {
			c.redirect = other.Coord.Addr // probed on the coordinator's ticks
		}
		return
	}
	if free && theyAbsorb && echoed && msg.From == other.Coord {
		if m.shunned.shuns(other.Coord.Addr, m.now) {
			// It did not take this view in last time (shun.go).
			m.count("merges_deferred")
			return
		}
		if m.cfg.Participant != nil && !m.freshPair(other.Coord) {
			// Nobody blocks for a coordinator that has not
			// authenticated: admission first (admission.go). Not
			// even a process alone: waiting to be absorbed, it
			// answers no merge request, and an outsider that
			// claims a larger view and never takes it in would
			// keep it from every other view for Timing.Merge,
			// and the next outsider address again.
			m.askAdmission(other, msg.Cookie)
			return
		}
		m.startMerge(other, msg.Cookie)
	}
}

// redirectMerge makes this coordinator, waiting to be absorbed, ask the
// view other instead: the view it waits to join has been absorbed itself,
// or was the wrong one to ask. Its members fetch cookies from other's
// coordinator first.
func (m *Member) redirectMerge(other Summary) {
	c := m.coord
	m.count("merges_redirected")
	m.debug("merge redirected", "from", c.merge.ID, "to", other.ID)
	c.merge, c.redirect = other, netip.AddrPort{}
	clear(c.cookies)
	m.sendSync(func(Endpoint) bool { return true })
}

// startMerge starts the view change that flushes this coordinator's view
// to be absorbed by other's; cookie is other's cookie for this member, if
// it has one.
func (m *Member) startMerge(other Summary, cookie []byte) {
	m.count("merges_started")
	m.debug("found a view that absorbs this one", "other", other.ID, "size", other.Size)
	m.startRound(other)
	if c := m.coord; c != nil && len(cookie) == cookieLen {
		// The answer that proved the other coordinator carries its
		// cookie for this one: no need to fetch it again.
		c.cookies[m.self] = bytes.Clone(cookie)
	}
}

// gotMergeCookie keeps the cookie this member fetched from the coordinator
// its view is to be absorbed by, for its coordinator's MergeReq.
func (m *Member) gotMergeCookie(c []byte) {
	p := m.part
	if bytes.Equal(p.cookie, c) {
		return
	}
	p.cookie = bytes.Clone(c)
	if p.phase == pSynced {
		p.reply.Cookie = p.cookie
		m.repeatReply()
	}
}

// fetchMergeCookie asks the coordinator this member's view is to be
// absorbed by for a cookie, which its answer carries.
func (m *Member) fetchMergeCookie() {
	p := m.part
	if p == nil || p.merge.ID == (ViewID{}) || p.cookie != nil {
		return
	}
	if c := m.coord; c != nil && c.merge == p.merge && c.cookies[m.self] != nil {
		p.cookie = c.cookies[m.self] // this member coordinates the merge, and has its cookie
		return
	}
	m.sendProbe(p.merge.Coord.Addr, mProbe, nil)
}

// sendMergeReq asks the absorbing coordinator to take in the members that
// have a cookie from it. Without its own cookie this coordinator cannot be
// heard, and waits.
func (m *Member) sendMergeReq() {
	c := m.coord
	if r := m.refusal; r.Coordinator == c.merge.Coord && m.now-r.At < m.cfg.Timing.Merge {
		// That coordinator refused this one once their handshake was
		// done (admission.go), after this view began to flush for it:
		// it will not absorb this view, which does not wait for it.
		m.abandonMerge(c.merge.Coord)
		return
	}
	c.sentAt = m.now
	if c.cookies[m.self] == nil {
		return
	}
	msg := ctlMsg{Type: mMergeReq, View: c.merge.ID, Proposal: View{ID: c.proposal.ID}}
	for _, e := range c.proposal.Members {
		if ck := c.cookies[e]; ck != nil {
			msg.Proposal.Members = append(msg.Proposal.Members, e)
			msg.Cookies = append(msg.Cookies, ck)
		}
	}
	if a := m.authenticating.other.Coord; a == c.merge.Coord || !m.askedRecently(a) {
		// Not while an admission asked for (a redirect, above) waits
		// for its challenge: this member takes one only from the
		// coordinator it asked last (stranger.go).
		m.asked = asked{coord: c.merge.Coord, at: m.now}
	}
	m.sendCtlTo(c.merge.Coord.Addr, &msg)
}

// missingCookies reports whether a member to be absorbed has no cookie yet.
func (m *Member) missingCookies() bool {
	c := m.coord
	return slices.ContainsFunc(c.proposal.Members, func(e Endpoint) bool { return c.cookies[e] == nil })
}

// onMergeReq takes a flushed view's request to be absorbed, as coordinator.
func (m *Member) onMergeReq(msg *ctlMsg) {
	// Every member named must have fetched a cookie from this member
	// itself: it is sent Flush, Install and the rest from here on.
	// The sender's cookie first: a stranger's request costs one MAC.
	self := slices.Index(msg.Proposal.Members, msg.From)
	if self < 0 || !m.cookies.verify(msg.Cookies[self], msg.From.Addr, m.now) {
		m.count("drop.merge_req_unproven")
		return
	}
	proven := make([]bool, len(msg.Proposal.Members))
	size := uint64(0)
	for i, e := range msg.Proposal.Members {
		proven[i] = i == self || m.cookies.verify(msg.Cookies[i], e.Addr, m.now)
		if proven[i] {
			size++
		}
	}
	m.inbound.active = false // no stranger any more: it proved its address
	if msg.Proposal.ID == (ViewID{}) {
		m.onAdmissionRequest(msg)
		return
	}
	if !m.plausibleLTime(msg.From, msg.Proposal.ID.LTime, true) {
		m.count("drop.merge_req_ltime")
		return
	}
	if m.shunned.shuns(msg.From.Addr, m.now) {
		// Its view's members were silent in the last round they asked
		// for (shun.go).
		m.count("drop.merge_req_shunned")
		return
	}
	// The request names the view it saw; this coordinator's view may have
	// changed since, which does not matter: the joiners consent to the
	// coordinator, not to a particular view.
	if !m.isCoordinator() || m.leaving {
		// Tell the requester where this view stands now: its summary
		// names the coordinator to ask instead.
		m.count("drop.merge_req")
		m.sendProbe(msg.From.Addr, mProbeReply, nil)
		return
	}
	// Members without a cookie do not count: they would not come in.
	theirs := Summary{ID: msg.Proposal.ID, Size: m.orderKey(size), Coord: msg.From}
	if !absorbs(m.summary(), theirs) {
		m.count("drop.merge_req")
		m.debug("merge request from a view that should absorb this one", "from", msg.From)
		return
	}
	var members []Endpoint
	for i, e := range msg.Proposal.Members {
		switch {
		case !proven[i]:
			m.count("merge_members_unproven")
		case m.shunned.shuns(e.Addr, m.now):
			m.count("merge_members_shunned")
		case !m.vetoed[e] && !m.identityVetoed(e) && !m.view.Has(e):
			members = append(members, e)
		}
	}
	if len(members) == 0 {
		m.debug("merge request names no one new", "from", msg.From)
		return
	}
	m.debug("merge request", "from", msg.From, "members", members)
	pm := pendingMerge{from: msg.From, id: msg.Proposal.ID, members: members, at: m.now}
	if m.cfg.Participant != nil && !m.freshPair(msg.From) && !m.admittedMerge(pm) {
		// Admission first (admission.go): nobody blocks for a
		// requester that has not authenticated.
		if m.identityVetoed(msg.From) {
			m.count("drop.merge_req_vetoed")
			return
		}
		m.startAdmission(pm)
		return
	}
	m.addMerge(pm)
}

// admittedMerge reports whether pm repeats a merge request this
// coordinator admitted and still keeps, with the pairwise sealing its
// admission made: the requester asks again while this view is busy with
// another round, and a new handshake would only undo the one its Flush
// is to be sealed under.
func (m *Member) admittedMerge(pm pendingMerge) bool {
	return m.pairs[pm.from] != nil && slices.ContainsFunc(m.merges, func(p pendingMerge) bool { return p.from == pm.from && p.id == pm.id })
}

// addMerge keeps an admitted merge request, and starts the view change
// that takes its members in.
func (m *Member) addMerge(pm pendingMerge) {
	i := slices.IndexFunc(m.merges, func(p pendingMerge) bool { return p.from == pm.from })
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
