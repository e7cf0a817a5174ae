package membership

import (
	"bytes"
	"errors"
	"net/netip"
	"slices"
	"time"
)

// A view change as its coordinator runs it. The coordinator is the first
// member of the view that nobody it believes has excluded; it is also a
// participant in its own round, through messages to itself.
//
//	cFlush ──all FlushOK──▶ cSync ──all SyncOK──▶ cDecide ──Decision──▶ cPrepare ──all Confirm──▶ Install
//	   │                        │                 (ErrHold: ask again,     (a Refuse: restart
//	   │                        │                  until Stuck/2)           without that member)
//	   └─ silent for Timing.Flush: go on without ──┘
//	                            │ (round flushing this view into another)
//	                            └──all SyncOK──▶ cMergeWait ──Timing.Merge──▶ cDecide (the fallback view)
//	                                             members fetch cookies from the
//	                                             absorbing coordinator; MergeReq
//	                                             with them; its Flush takes the
//	                                             members over
//
// Without a participant, cDecide installs at once and there is no
// cPrepare. With one, the decider (Participant.Decider: this member, or
// another member of the next view asked with DecideReq) decides, this
// member sends each member of the next view the common part and its own
// part (Prepare), checks each Confirm with Participant.Verify, and orders
// the installation only once every member has confirmed. A decider that
// cannot decide (Decide failed here, or a delegated decider's Refuse)
// restarts the round without the joiners it blames (JoinerError), not
// without itself, unless the round had no joiners.
//
// The decider is asked before cDecide when it can be: once every member
// has flushed (prepareEarly), or, with an EarlyDecider, as soon as the
// joiners and this member have flushed, beside the Flush when there are
// no joiners (askEarly). Its answer is then taken in cFlush or cSync as
// in cDecide (a Decision kept, a Refuse aborting, a Wait noted), each
// member getting its Prepare once both the decision and its FlushOK are
// in; Confirms are kept until cDecide, which moves on to cPrepare at once
// when the decision is in.
//
// The proposal (next view) is fixed when the round starts; any change (a
// member silent, suspected, vetoed) starts a new round with a new logical
// time, so a view id always names one member list.
type coordPhase uint8

const (
	cFlush coordPhase = iota
	cSync
	cDecide
	cMergeWait
	cPrepare
)

func (c coordPhase) String() string {
	return [...]string{"flush", "sync", "decide", "merge-wait", "prepare"}[c]
}

type coordination struct {
	proposal  View
	survivors []Endpoint // members of the current view in the flush
	joiners   []Endpoint // members of other views coming in
	merge     Summary    // set when this view is to be absorbed by another
	phase     coordPhase
	replies   map[Endpoint]*ctlMsg // FlushOK by sender
	synced    map[Endpoint]bool
	progress  map[Endpoint]time.Duration // last Wait: alive, still working
	cookies   map[Endpoint][]byte        // merge: each member's cookie from the absorbing coordinator
	redirect  netip.AddrPort             // merge: a coordinator named as the one to ask instead, to probe
	cut       []uint64
	holders   []uint64
	phaseAt   time.Duration
	sentAt    time.Duration
	decider   Endpoint
	askedAt   time.Duration // when DecideReq last went to the decider
	asked     bool          // DecideReq went to the decider this round
	decision  *Decision
	confirmed map[Endpoint]bool
	rekey     bool // a rekey round: nothing changes but the view id
	// early: the decider is asked beside the flush, as soon as the
	// contributions the participant needs are in (EarlyDecider).
	early bool
	// late: no round of this view decides early any more, since a
	// survivor contributed after all (onFlushOK); restarts keep it.
	late bool
	// prepares is the Prepare of the decision as sealed for the members
	// that flushed so far, sent as is to each member whose FlushOK comes
	// later, until the next retry seals it anew: one signature for the
	// round's members, not one per member.
	prepares *fanout
}

// announcement repeats Install to the members of a new view that have not
// acknowledged it.
type announcement struct {
	msg     ctlMsg
	pending map[Endpoint]bool
	until   time.Duration
	sentAt  time.Duration
}

type pendingMerge struct {
	from    Endpoint
	id      ViewID
	members []Endpoint
	at      time.Duration
	// only: the request asked for admission only, before its view
	// blocks (admission.go); nobody is to be taken in yet.
	only bool
}

// roundNeeded reports whether the coordinator has a reason for a view
// change: someone suspected, leaving, or waiting to be merged in.
func (m *Member) roundNeeded() bool {
	for r := range m.view.Members {
		if m.fd.excluded(r) || m.fd.leaving[r] {
			return true
		}
	}
	return len(m.merges) > 0 || m.rekey
}

func (m *Member) tickCoordinator() {
	m.expireMerges()
	c := m.coord
	t := &m.cfg.Timing
	switch c.phase {
	case cFlush:
		if m.silent(func(e Endpoint) bool { return c.replies[e] == nil }) {
			m.dropSilent(func(e Endpoint) bool { return c.replies[e] == nil && m.now-max(c.phaseAt, c.progress[e]) >= t.Flush })
			return
		}
		if m.now-c.sentAt >= t.Retry {
			m.sendFlush()
			if c.decision != nil {
				m.resendPrepare(m.prepareNow)
			}
		}
		m.reaskDecider()
	case cSync:
		waiting := func(e Endpoint) bool { return !c.synced[e] && slices.Contains(c.survivors, e) }
		if m.silent(waiting) {
			m.dropSilent(func(e Endpoint) bool { return waiting(e) && m.now-max(c.phaseAt, c.progress[e]) >= t.Flush })
			return
		}
		if m.now-c.sentAt >= t.Retry {
			m.sendSync(func(e Endpoint) bool { return !c.synced[e] })
			if c.decision != nil {
				m.resendPrepare(nil)
			}
		}
		m.reaskDecider()
	case cDecide:
		if d := c.decider; d != m.self && !d.IsZero() && m.now-max(c.phaseAt, c.progress[d]) >= t.Flush {
			// Silence is no refusal: the decider is left out of this
			// round as a silent member is (a suspect, which keeps it out
			// until it merges back), never vetoed.
			m.count("decider_timeouts")
			m.dropSilent(func(e Endpoint) bool { return e == d })
			return
		}
		m.decide()
	case cPrepare:
		waiting := func(e Endpoint) bool { return !c.confirmed[e] && slices.Contains(c.proposal.Members, e) }
		if m.silent(waiting) {
			m.dropSilent(func(e Endpoint) bool { return waiting(e) && m.now-max(c.phaseAt, c.progress[e]) >= t.Flush })
			return
		}
		if m.now-c.sentAt >= t.Retry {
			c.sentAt = m.now
			m.resendPrepare(nil)
		}
	case cMergeWait:
		// An admission with the absorbing coordinator that makes
		// progress is waited for: it comes before that coordinator
		// may take this view in.
		if m.now-max(c.phaseAt, m.admissionProgress(c.merge.Coord)) >= t.Merge {
			m.count("merge_timeout")
			m.shunned.shun(c.merge.Coord.Addr, m.now, t.Merge)
			m.debug("not absorbed in time; installing the fallback view", "absorbed_by", c.merge.ID)
			c.phase, c.phaseAt = cDecide, m.now
			m.decide()
			return
		}
		if m.now-c.sentAt < t.Retry {
			return
		}
		if c.redirect.IsValid() {
			m.sendProbe(c.redirect, mProbe, nil)
		}
		if m.missingCookies() && m.now-c.phaseAt < t.Merge/2 {
			// Members still fetching their cookies are reminded;
			// after half the wait, the request goes without them
			// (they go on alone in time, and merge back).
			c.sentAt = m.now
			m.sendSync(func(e Endpoint) bool { return c.cookies[e] == nil && slices.Contains(c.proposal.Members, e) })
			return
		}
		m.sendMergeReq()
	}
}

// silent reports whether some member the round waits for (per waiting) has
// not replied, nor said it is working on it, for Timing.Flush.
func (m *Member) silent(waiting func(Endpoint) bool) bool {
	c := m.coord
	for _, e := range slices.Concat(c.survivors, c.joiners) {
		if waiting(e) && m.now-max(c.phaseAt, c.progress[e]) >= m.cfg.Timing.Flush {
			return true
		}
	}
	return false
}

// onWait notes that a member is alive and busy with the round.
func (m *Member) onWait(msg *ctlMsg) {
	if c := m.coord; c != nil && msg.Round == c.proposal.ID && (slices.Contains(c.survivors, msg.From) || slices.Contains(c.joiners, msg.From)) {
		c.progress[msg.From] = m.now
	}
}

// dropSilent restarts the round without the members for which silent holds:
// survivors become suspects, joiners are forgotten.
func (m *Member) dropSilent(silent func(Endpoint) bool) {
	c := m.coord
	for _, e := range c.survivors {
		if silent(e) && e != m.self {
			m.fd.suspects[m.view.Rank(e)] = true
			m.count("flush_timeouts")
			m.debug("member silent in view change", "member", e)
		}
	}
	for _, e := range c.joiners {
		if silent(e) {
			m.forgetJoiner(e)
			m.shunned.shun(e.Addr, m.now, m.cfg.Timing.Merge)
			m.count("joiner_timeouts")
			m.debug("joiner silent in view change", "joiner", e)
		}
	}
	m.restartRound()
}

func (m *Member) forgetJoiner(e Endpoint) {
	for i := range m.merges {
		m.merges[i].members = slices.DeleteFunc(m.merges[i].members, func(x Endpoint) bool { return x == e })
	}
	m.merges = slices.DeleteFunc(m.merges, func(p pendingMerge) bool { return len(p.members) == 0 })
}

func (m *Member) restartRound() {
	old := m.coord
	if old == nil {
		return
	}
	m.stopCoordinating()
	m.count("rounds_restarted")
	m.debug("view change restarted")
	if m.isCoordinator() {
		m.beginRound(old.merge, old.late)
	}
	// A joiner left out of the new round (silent, refused, or no longer
	// asking) would otherwise wait in the old one until it gave up.
	for _, e := range old.joiners {
		if m.coord == nil || !slices.Contains(m.coord.joiners, e) {
			m.count("joiners_dismissed")
			m.sendCtl(e, &ctlMsg{Type: mDismiss, Round: old.proposal.ID})
		}
	}
}

// startRound begins a view change: the survivors are the members nobody has
// excluded, the next view is the survivors that are not leaving followed by
// the joiners, unless this view is to be merged into another (merge set),
// in which case the next view is only a fallback.
func (m *Member) startRound(merge Summary) { m.beginRound(merge, false) }

// beginRound is startRound; late keeps the round from deciding early.
func (m *Member) beginRound(merge Summary, late bool) {
	var survivors, next []Endpoint
	for r, e := range m.view.Members {
		if m.fd.excluded(r) && r != m.rank {
			continue
		}
		survivors = append(survivors, e)
		if !m.fd.leaving[r] {
			next = append(next, e)
		}
	}
	var joiners []Endpoint
	if merge.ID == (ViewID{}) && !(m.cfg.Participant != nil && m.fd.leaving[m.rank]) {
		// (A coordinator that leaves takes nobody in: it holds no keys
		// of the next view, under which the joiners seal the end of the
		// round.)
		for _, pm := range m.merges {
			// The next view must come after every view its members have
			// been in, the joiners' too.
			m.maxLTime = max(m.maxLTime, pm.id.LTime)
			for _, e := range pm.members {
				if len(next) < MaxMembers && !m.view.Has(e) && !m.vetoed[e] && !m.identityVetoed(e) && !slices.Contains(joiners, e) {
					joiners = append(joiners, e)
					next = append(next, e)
				}
			}
		}
	}
	if len(next) == 0 {
		// Every survivor is leaving, this member among them: no view
		// without members is ever proposed or decided. Alone, it just
		// leaves; with others, it stays in the next view, the last to
		// go, so that the others leave through a view change (and it
		// then leaves alone).
		if len(survivors) == 1 {
			m.debug("leaving alone")
			m.leave()
			return
		}
		next = append(next, m.self)
	}
	rekey := m.rekey && merge.ID == (ViewID{})
	m.rekey = false
	if !rekey && m.part == nil && merge.ID == (ViewID{}) && len(joiners) == 0 && len(survivors) == len(m.view.Members) && len(next) == len(survivors) {
		// Nothing would change: the merge requests that called for this
		// round name members already in the view. (A round restarted
		// after members flushed must go on, to let them out of it.)
		m.merges = m.merges[:0]
		m.debug("no view change needed")
		return
	}
	m.maxLTime = max(m.maxLTime, m.view.ID.LTime) + 1
	m.becomeCoordinator(&coordination{
		proposal:  View{ID: ViewID{LTime: m.maxLTime, Coord: m.self}, Members: next},
		survivors: survivors,
		joiners:   joiners,
		merge:     merge,
		phase:     cFlush,
		replies:   make(map[Endpoint]*ctlMsg),
		synced:    make(map[Endpoint]bool),
		progress:  make(map[Endpoint]time.Duration),
		cookies:   make(map[Endpoint][]byte),
		confirmed: make(map[Endpoint]bool),
		phaseAt:   m.now,
		rekey:     rekey,
		late:      late,
	})
	m.coord.early = !late && merge.ID == (ViewID{}) && m.decidesEarly()
	m.count("rounds_started")
	if rekey {
		m.count("rekey_rounds")
	}
	if m.debugging() {
		args := []any{"proposal", m.coord.proposal, "why", m.reasons()}
		if merge.ID != (ViewID{}) {
			args = append(args, "absorbed_by", merge.ID)
		}
		m.debug("view change started", args...)
	}
	m.sendFlush()
	m.askEarly()
}

// decidesEarly reports whether the participant's decision needs only the
// contributions of the joiners and of the coordinator (EarlyDecider).
func (m *Member) decidesEarly() bool {
	e, ok := m.cfg.Participant.(EarlyDecider)
	return ok && e.SurvivorsContributeNothing()
}

// earlyContributors returns the members whose contributions an early
// decision waits for: the joiners and, with joiners, this member (whose
// contribution vouches for them). Without joiners, nobody: the decider is
// asked beside the Flush.
func (m *Member) earlyContributors() []Endpoint {
	c := m.coord
	if len(c.joiners) == 0 {
		return nil
	}
	return append(slices.Clone(c.joiners), m.self)
}

// askEarly asks the decider, in a round that decides early, once every
// early contributor has flushed: the decision builds on the view, the
// proposal and the contributions, not on the cut, so it is made while the
// survivors flush and takes the flush off the round's critical path. When
// this member is the decider, it asks itself: settle leaves the
// DecideReq for Continue, so that the input's outputs (the Flush above
// all) leave before the decision's work.
func (m *Member) askEarly() {
	c := m.coord
	if c == nil || !c.early || c.asked || c.decision != nil || c.phase != cFlush && c.phase != cSync {
		return
	}
	for _, e := range m.earlyContributors() {
		if c.replies[e] == nil {
			return
		}
	}
	if c.decider.IsZero() {
		c.decider = m.chooseDecider()
	}
	m.count("decided_early")
	if c.decider != m.self {
		m.askDecider()
		return
	}
	c.asked, c.askedAt = true, m.now
	m.sendCtl(m.self, &ctlMsg{Type: mDecideReq, Round: c.proposal.ID})
}

// decideOwn decides the round here, as its decider, when it asked itself
// early (askEarly). A hold or a failure is left to cDecide, which asks
// again with every contribution.
func (m *Member) decideOwn(round ViewID) {
	c := m.coord
	if c == nil || c.proposal.ID != round || c.decision != nil || c.decider != m.self || c.phase != cFlush && c.phase != cSync {
		return
	}
	if d, ok := m.decideEarly(); ok {
		m.takeEarlyDecision(d)
	}
}

// decideEarly has this member, the round's decider, decide before the
// decide phase. A failure is left to that phase (it decides again, and
// reports); a decision out of bounds aborts the round.
func (m *Member) decideEarly() (Decision, bool) {
	c := m.coord
	d, err := m.cfg.Participant.Decide(m.view.Clone(), c.proposal.Clone(), m.contributions(), m.joinerIdentities())
	if err != nil {
		return Decision{}, false
	}
	if err := checkDecision(d, c.proposal); err != nil {
		m.count("decide_oversize")
		m.cfg.Logger.Warn("view change aborted: the participant's decision is out of bounds",
			"self", m.self, "view", c.proposal.ID, "size", d.Size(), "err", err)
		m.abortRound(nil, false)
		return Decision{}, false
	}
	return d, true
}

// takeEarlyDecision keeps a decision made before the round's decide
// phase and sends it to every member of the next view that has flushed
// (during the flush) or to all of them (during the sync): a member
// processes a Prepare once it has flushed, while the others flush and
// reach the cut. The rest get theirs as their FlushOK comes (onFlushOK).
func (m *Member) takeEarlyDecision(d Decision) {
	c := m.coord
	c.decision = &d
	if c.phase == cSync {
		c.sentAt = m.now
	}
	m.sendPrepare(m.prepareNow)
}

// flushed reports whether e's FlushOK is in.
func (m *Member) flushed(e Endpoint) bool { return m.coord.replies[e] != nil }

// prepareNow reports whether member e of the next view gets a decision
// made during the flush now: once it has flushed, and this member only
// once every member has. Its own Prepare, processed after the input's
// outputs have left (settle), then holds back nobody else's, as it does
// in the other phases: processing a commit here while FlushOKs wait
// would delay the Prepare they call for.
func (m *Member) prepareNow(e Endpoint) bool {
	if e != m.self {
		return m.flushed(e)
	}
	return !slices.ContainsFunc(m.coord.proposal.Members, func(x Endpoint) bool { return !m.flushed(x) })
}

func (m *Member) sendFlush() {
	c := m.coord
	c.sentAt = m.now
	f := m.fanout(ctlMsg{Type: mFlush, View: m.view.ID, Proposal: c.proposal, Survivors: c.survivors})
	for _, e := range slices.Concat(c.survivors, c.joiners) {
		if c.replies[e] == nil {
			f.send(e)
		}
	}
}

func (m *Member) onFlushOK(msg *ctlMsg) {
	c := m.coord
	if c == nil || c.phase != cFlush || msg.Round != c.proposal.ID || c.replies[msg.From] != nil {
		return
	}
	switch {
	case slices.Contains(c.survivors, msg.From):
		if len(msg.Vector) != len(m.view.Members) {
			m.count("drop.flushok")
			return
		}
	case slices.Contains(c.joiners, msg.From):
	default:
		return
	}
	cp := *msg
	c.replies[msg.From] = &cp
	if c.early && len(msg.Data) > 0 && !slices.Contains(m.earlyContributors(), msg.From) {
		// The participant said that survivors contribute nothing, and
		// one did: a decision made without it may be wrong. The
		// decider keeps the decision it made for this proposal (and
		// the secure participant its commit), so asking it again
		// would bring back the same: the round restarts under a new
		// proposal, and this view's rounds decide at the usual point.
		m.count("early_decision_fallbacks")
		m.debug("a survivor contributed to a round decided early; restarting it", "member", msg.From)
		c.late = true
		m.restartRound()
		return
	}
	if c.decision != nil && c.proposal.Has(msg.From) {
		m.sendPrepare(func(e Endpoint) bool { return (e == msg.From || e == m.self) && m.prepareNow(e) })
	}
	m.askEarly()
	if m.coord != c {
		return
	}
	for _, e := range slices.Concat(c.survivors, c.joiners) {
		if c.replies[e] == nil {
			return
		}
	}
	m.beginSync()
}

// beginSync computes the cut. For an origin that survives, it is the count
// of multicasts the origin itself reported, and the origin holds them: it
// sends nothing more in the view once it has reported, so whatever a
// survivor delivered beyond that count the origin never sent. Such
// messages are an insider's forgeries, which sender authentication holds
// back from the application; a cut at the larger count would be one the
// origin never reaches. For an origin that does not survive, whose own
// count nobody has, the cut is the most any survivor delivered, and a
// survivor that has all of it.
func (m *Member) beginSync() {
	c := m.coord
	n := len(m.view.Members)
	c.cut = make([]uint64, n)
	c.holders = make([]uint64, n)
	for r := range n {
		if origin := m.view.Members[r]; slices.Contains(c.survivors, origin) {
			c.cut[r], c.holders[r] = c.replies[origin].Vector[r], uint64(r)
			continue
		}
		c.holders[r] = uint64(m.rank)
		for _, e := range c.survivors {
			if v := c.replies[e].Vector[r]; v > c.cut[r] {
				c.cut[r], c.holders[r] = v, uint64(m.view.Rank(e))
			}
		}
	}
	c.phase, c.phaseAt = cSync, m.now
	m.sendSync(func(e Endpoint) bool { return !c.synced[e] })
	m.prepareEarly()
}

// prepareEarly has the round decided, when it does not flush this view
// into another, as soon as every member has flushed and contributed, and
// sends the decision beside the cut: the members process it while they
// reach the cut, which saves the prepare step its own round trip. This
// member decides at once when it is the decider; a delegated decider is
// asked now, and its Decision, if it comes during the sync, goes out as
// soon as it comes (onDecision). A hold or a failure is left to cDecide.
func (m *Member) prepareEarly() {
	c := m.coord
	P := m.cfg.Participant
	if P == nil || c.merge.ID != (ViewID{}) || c.early {
		// (A round deciding early asked already, and every member got
		// the decision with its FlushOK if it is in.)
		return
	}
	if c.decider = m.chooseDecider(); c.decider != m.self {
		m.askDecider()
		return
	}
	d, ok := m.decideEarly()
	if !ok {
		return
	}
	c.decision = &d
	m.sendPrepare(nil)
}

func (m *Member) contributions() map[Endpoint][]byte {
	c := m.coord
	out := make(map[Endpoint][]byte, len(c.replies))
	for e, r := range c.replies {
		out[e] = r.Data
	}
	return out
}

func (m *Member) joinerIdentities() map[Endpoint]Identity {
	c := m.coord
	out := make(map[Endpoint]Identity, len(c.joiners))
	for _, e := range c.joiners {
		out[e] = m.identities[e]
	}
	return out
}

// sendSync sends the cut to the survivors to for which holds.
func (m *Member) sendSync(to func(Endpoint) bool) {
	c := m.coord
	c.sentAt = m.now
	f := m.fanout(ctlMsg{Type: mSync, Round: c.proposal.ID, Vector: c.cut, Holders: c.holders, Summary: c.merge})
	for _, e := range c.survivors {
		if to(e) {
			f.send(e)
		}
	}
}

func (m *Member) onSyncOK(msg *ctlMsg) {
	c := m.coord
	if c == nil || c.phase != cSync && c.phase != cMergeWait || msg.Round != c.proposal.ID || !slices.Contains(c.survivors, msg.From) {
		return
	}
	if msg.Cookie != nil && c.merge.ID != (ViewID{}) {
		c.cookies[msg.From] = bytes.Clone(msg.Cookie)
	}
	if c.phase == cMergeWait {
		if msg.Cookie != nil && !m.missingCookies() {
			m.sendMergeReq()
		}
		return
	}
	c.synced[msg.From] = true
	for _, e := range c.survivors {
		if !c.synced[e] {
			return
		}
	}
	c.phaseAt = m.now
	if c.merge.ID != (ViewID{}) {
		c.phase = cMergeWait
		if !m.missingCookies() {
			m.sendMergeReq()
		}
		return
	}
	c.phase = cDecide
	m.decide()
}

// chooseDecider returns the decider of the round: the member the
// participant names, if it is a member of both the current view and the
// next, else this member. A joiner is never the decider: it has not been
// admitted to what the decision builds on (for the key layers, the ratchet
// tree, whose oldest path is a current member's), and a joiner that timed
// out as decider was once vetoed for good.
func (m *Member) chooseDecider() Endpoint {
	c := m.coord
	d := m.cfg.Participant.Decider(m.view.Clone(), c.proposal.Clone())
	if !c.proposal.Has(d) || !m.view.Has(d) {
		return m.self
	}
	return d
}

// decide has the next view decided: at once without a participant; with
// one, by the decider, here or asked with DecideReq. A hold lasts at most
// Timing.Stuck/2 from the start of the phase, so that the members waiting
// do not give up on the round first.
func (m *Member) decide() {
	c := m.coord
	P := m.cfg.Participant
	if P == nil {
		m.finishRound()
		return
	}
	if c.decision != nil {
		// Decided early (prepareEarly): wait for the confirmations.
		c.phase, c.phaseAt = cPrepare, m.now
		clear(c.progress)
		m.finishIfConfirmed()
		return
	}
	if m.now-c.phaseAt >= m.cfg.Timing.Stuck/2 {
		m.count("decide_deadline")
		m.debug("no decision in time", "round", c.proposal.ID)
		m.abortRound(nil, false)
		return
	}
	if c.decider.IsZero() {
		c.decider = m.chooseDecider()
	}
	if c.decider != m.self {
		if !c.asked || m.now-c.askedAt >= m.cfg.Timing.Retry {
			m.askDecider()
		}
		return
	}
	d, err := P.Decide(m.view.Clone(), c.proposal.Clone(), m.contributions(), m.joinerIdentities())
	switch {
	case errors.Is(err, ErrHold):
		m.count("decide_held")
		return
	case err == nil:
		err = checkDecision(d, c.proposal)
		if err != nil {
			m.count("decide_oversize")
			m.cfg.Logger.Warn("view change aborted: the participant's decision is out of bounds",
				"self", m.self, "view", c.proposal.ID, "size", d.Size(), "err", err)
		}
	}
	if err != nil {
		m.count("decide_aborted")
		m.debug("view change aborted by participant", "err", err)
		m.abortRound(culprits(err, c.joiners))
		return
	}
	m.beginPrepare(d)
}

// askDecider sends the delegated decider the round's contributions
// (DecideReq).
func (m *Member) askDecider() {
	c := m.coord
	c.asked, c.askedAt = true, m.now
	contributions := m.contributions()
	msg := ctlMsg{Type: mDecideReq, Round: c.proposal.ID}
	for _, e := range slices.Concat(c.survivors, c.joiners) {
		if b, ok := contributions[e]; ok {
			msg.Parts = append(msg.Parts, part{E: e, B: b})
		}
	}
	m.sendCtl(c.decider, &msg)
}

// onDecision takes the delegated decider's decision: in cDecide, or
// during the flush or the sync when the decider was asked early
// (askEarly, prepareEarly), in which case each member gets it once it has
// flushed, beside the cut at the latest.
func (m *Member) onDecision(msg *ctlMsg) {
	c := m.coord
	if c == nil || c.phase != cDecide && c.phase != cSync && c.phase != cFlush || !c.asked || c.decision != nil || msg.Round != c.proposal.ID || msg.From != c.decider || c.decider.IsZero() {
		return
	}
	d := Decision{Common: msg.Data, Parts: make(map[Endpoint][]byte, len(msg.Parts))}
	for _, p := range msg.Parts {
		d.Parts[p.E] = p.B
	}
	if err := checkDecision(d, c.proposal); err != nil {
		m.count("drop.decision")
		m.leaveOut(msg.From)
		return
	}
	if c.phase != cDecide {
		m.takeEarlyDecision(d)
		return
	}
	m.beginPrepare(d)
}

// reaskDecider repeats a DecideReq asked before the decide phase that
// has had no answer for Timing.Retry. (A decider silent for Timing.Flush
// is left out in cDecide.)
func (m *Member) reaskDecider() {
	c := m.coord
	if c.asked && c.decision == nil && c.decider != m.self && !c.decider.IsZero() && m.now-c.askedAt >= m.cfg.Timing.Retry {
		m.askDecider()
	}
}

// beginPrepare sends each member of the next view its parts of d.
func (m *Member) beginPrepare(d Decision) {
	c := m.coord
	c.decision = &d
	c.phase, c.phaseAt = cPrepare, m.now
	c.sentAt = m.now
	clear(c.progress)
	m.sendPrepare(nil)
}

// sendPrepare sends the decision to the members of the next view that
// have not confirmed it and for which to holds (all of them when to is
// nil). Members without a part of their own (all but the joiners) get
// the same message, sealed once for all those it goes to until a retry
// (resendPrepare).
func (m *Member) sendPrepare(to func(Endpoint) bool) {
	c := m.coord
	if c.prepares == nil {
		c.prepares = m.fanout(ctlMsg{Type: mPrepare, Round: c.proposal.ID, Data: c.decision.Common})
	}
	for _, e := range c.proposal.Members {
		switch own, ok := c.decision.Parts[e]; {
		case c.confirmed[e] || to != nil && !to(e):
		case ok:
			m.sendCtl(e, &ctlMsg{Type: mPrepare, Round: c.proposal.ID, Data: c.decision.Common, Own: own})
		default:
			c.prepares.send(e)
		}
	}
}

// resendPrepare repeats the decision to the members for which to holds
// that have not confirmed it, in a Prepare sealed anew (a repeat goes
// under a new sequence number, fanout.go).
func (m *Member) resendPrepare(to func(Endpoint) bool) {
	m.coord.prepares = nil
	m.sendPrepare(to)
}

func (m *Member) onConfirm(msg *ctlMsg) {
	c := m.coord
	if c == nil || c.decision == nil || msg.Round != c.proposal.ID || !c.proposal.Has(msg.From) || c.confirmed[msg.From] || !m.sealedForRound(msg) {
		return
	}
	if err := m.cfg.Participant.Verify(c.proposal.Clone(), c.decision.Common, msg.From, msg.Data); err != nil {
		m.count("confirmations_failed")
		m.debug("confirmation refused", "member", msg.From, "err", err)
		m.leaveOut(msg.From)
		return
	}
	c.confirmed[msg.From] = true
	m.finishIfConfirmed()
}

// finishIfConfirmed installs once every member has confirmed, in the
// prepare phase (confirmations that come during the sync are kept).
func (m *Member) finishIfConfirmed() {
	c := m.coord
	if c.phase != cPrepare {
		return
	}
	for _, e := range c.proposal.Members {
		if !c.confirmed[e] {
			return
		}
	}
	m.finishRound()
}

// onRefuse leaves out of the round a member that could not process the
// decision; a decider that could not decide leaves out the round's
// joiners it names (all of them if it names none), or itself when the
// round has none.
func (m *Member) onRefuse(msg *ctlMsg) {
	c := m.coord
	if c == nil || msg.Round != c.proposal.ID || !m.sealedForRound(msg) {
		return
	}
	// The decider refuses in the decide phase, or before it when it was
	// asked early (askEarly, prepareEarly): the same refusal either way.
	deciding := msg.From == c.decider && c.decision == nil &&
		(c.phase == cDecide || (c.phase == cFlush || c.phase == cSync) && c.asked && msg.From != m.self)
	switch {
	case deciding && len(c.joiners) > 0:
		// The decider could not decide a round with joiners: the
		// fault is taken to be theirs (a roster entry or key package
		// it cannot accept, an identity it refuses), never the
		// decider's, so that a bad joiner cannot split the group. The
		// round without them has none; if the decider refuses that
		// one too, it is left out.
		m.count("decider_refusals")
		m.abortRound(culprits(&JoinerError{Joiners: msg.Joiners}, c.joiners))
	case deciding, c.decision != nil && c.proposal.Has(msg.From):
		m.count("members_refused")
		m.leaveOut(msg.From)
	}
}

// leaveOut restarts the round without e: a member of the view becomes a
// suspect, a joiner is refused.
func (m *Member) leaveOut(e Endpoint) {
	m.debug("left out of the view change", "member", e)
	if r := m.view.Rank(e); r >= 0 {
		if e == m.self {
			// This member cannot take part in its own round: it has
			// nothing left to do in this view.
			m.stopCoordinating()
			m.goAlone()
			return
		}
		m.fd.suspects[r] = true
	} else {
		m.vetoJoiner(e)
		m.forgetJoiner(e)
	}
	m.restartRound()
}

// abortRound restarts the round without the joiners out (all of them
// when out is nil), after the decider failed to decide. When the
// participant named them (blame), they are also shunned for
// Timing.Merge, so that their next request does not come straight back
// into the next round; none is vetoed, since the decider's word alone is
// no proof against them.
func (m *Member) abortRound(out []Endpoint, blame bool) {
	if out == nil {
		out = m.coord.joiners
	}
	for _, e := range out {
		m.forgetJoiner(e)
		if blame {
			m.shunned.shun(e.Addr, m.now, m.cfg.Timing.Merge)
		}
	}
	m.restartRound()
}

// finishRound orders every member of the round to install the proposal and
// installs it here.
func (m *Member) finishRound() {
	c := m.coord
	msg := ctlMsg{Type: mInstall, Round: c.proposal.ID}
	a := &announcement{msg: msg, pending: make(map[Endpoint]bool), until: m.now + m.cfg.Timing.Stuck, sentAt: m.now}
	f := m.fanout(msg)
	for _, e := range slices.Concat(c.survivors, c.joiners) {
		if e != m.self {
			a.pending[e] = true
			f.send(e)
		}
	}
	if c.merge.ID == (ViewID{}) {
		// The joiners are in: their requests are done with.
		m.merges = slices.DeleteFunc(m.merges, func(p pendingMerge) bool {
			for _, e := range p.members {
				if !slices.Contains(c.joiners, e) {
					return false
				}
			}
			return true
		})
	}
	proposal := c.proposal
	m.announce = a
	m.count("rounds_finished")
	if m.part == nil || m.part.round != proposal.ID {
		// This member left its own round (it is leaving the view); what
		// it knows of the survivors is the round's.
		m.becomeParticipant(&participation{round: proposal.ID, proposal: proposal, survivors: c.survivors})
	}
	m.installRound()
}

func (m *Member) onInstallAck(msg *ctlMsg) {
	if a := m.announce; a != nil && msg.Round == a.msg.Round {
		delete(a.pending, msg.From)
	}
}

func (m *Member) tickAnnounce() {
	a := m.announce
	if a == nil {
		return
	}
	if len(a.pending) == 0 || m.now >= a.until {
		m.announce = nil
		return
	}
	if m.now-a.sentAt < m.cfg.Timing.Retry {
		return
	}
	a.sentAt = m.now
	f := m.fanout(a.msg)
	for _, e := range m.sortedPending() {
		f.send(e)
	}
}

// sortedPending lists the members yet to acknowledge the announcement, in
// a deterministic order.
func (m *Member) sortedPending() []Endpoint {
	es := make([]Endpoint, 0, len(m.announce.pending))
	for e := range m.announce.pending {
		es = append(es, e)
	}
	slices.SortFunc(es, Endpoint.Compare)
	return es
}
