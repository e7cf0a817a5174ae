package membership

import (
	"errors"
	"slices"
	"time"

	"github.com/conclave-go/conclave/layers"
)

// A member's part in a view change, as the coordinator's messages drive it:
//
//	           Flush                 (own sends drained)
//	(normal) ────────▶ pFlushing ─────────────────────▶ pFlushed
//	                   block the application,           FlushOK sent: delivery
//	                   finish sending what was          vector; origins leaving
//	                   accepted                         the view are frozen
//	                                                         │ Sync (the cut)
//	                                                         ▼
//	(next view) ◀──────────── pSynced ◀─────────────────── pSyncing
//	           Install        SyncOK sent       cut reached: every origin
//	                                            delivered exactly up to it
//
// A joiner (a member of another view, or alone) only consents: it answers
// Flush with FlushOK and waits in pFlushed for Install. With a participant,
// every member of the next view (joiners too) also processes the decision
// when its Prepare comes (before Sync, beside it, or after it), at any
// phase from pFlushed on, and answers Confirm (or Refuse); it waits for
// Install once both synced (pFlushed for a joiner) and prepared. A member
// that is the decider answers the coordinator's DecideReq in any phase,
// pFlushing included: the decision builds on the view, the proposal and
// the contributions, not on the cut, so that the coordinator may ask while
// the members are still flushing (EarlyDecider). Whoever makes no
// progress for Timing.Stuck goes on alone.
type partPhase uint8

const (
	pFlushing partPhase = iota
	pFlushed
	pSyncing
	pSynced
)

func (p partPhase) String() string {
	return [...]string{"flushing", "flushed", "syncing", "synced"}[p]
}

type participation struct {
	round     ViewID
	proposal  View
	coord     Endpoint
	survivors []Endpoint // of the current view; nil for a joiner
	joiner    bool
	phase     partPhase
	merge     Summary       // the view this one will be absorbed into, if any
	cookie    []byte        // from merge's coordinator, for this member's address
	heard     time.Duration // last message from the coordinator
	started   time.Duration
	reply     ctlMsg  // the last reply, repeated when asked again
	prepared  bool    // the participant processed this round's decision
	confirm   ctlMsg  // the answer to Prepare (Confirm or Refuse), repeated when asked again
	decision  *ctlMsg // as decider: the Decision sent, repeated when asked again
}

// waitsForInstall reports whether this member has done its part in the
// round and waits for Install: synced (flushed, for a joiner) and, with a
// participant, prepared.
func (m *Member) waitsForInstall() bool {
	p := m.part
	// A member leaving the view never gets the decision (it is not in
	// next): it waits for the Install that lets it go.
	if p == nil || m.cfg.Participant != nil && !p.prepared && p.proposal.Has(m.self) {
		return false
	}
	if p.joiner {
		return p.phase == pFlushed
	}
	return p.phase == pSynced
}

func (m *Member) onFlush(msg *ctlMsg) {
	if msg.View != m.view.ID {
		m.consentAsJoiner(msg)
		return
	}
	c := msg.From
	cr := m.view.Rank(c)
	if cr < 0 || !slices.Contains(msg.Survivors, m.self) || !m.validProposal(msg) {
		m.count("drop.flush")
		return
	}
	// A coordinator speaks for the members ranked before it only when it
	// has excluded them.
	for r := range cr {
		if slices.Contains(msg.Survivors, m.view.Members[r]) {
			m.count("drop.flush_not_coordinator")
			return
		}
	}
	if p := m.part; p != nil {
		if p.round == msg.Proposal.ID {
			p.heard = m.now
			m.repeatReply()
			return
		}
		pr := m.view.Rank(p.coord)
		newer := p.coord == c && msg.Proposal.ID.LTime > p.round.LTime ||
			pr < 0 || cr < pr || m.fd.suspected(pr)
		if !newer {
			m.count("drop.flush_superseded")
			return
		}
	}
	if m.coord != nil && c != m.self {
		m.count("coordination_preempted")
		m.stopCoordinating()
	}
	for r := range cr {
		m.fd.suspects[r] = true
	}
	m.block()
	m.becomeParticipant(&participation{
		round:     msg.Proposal.ID,
		proposal:  msg.Proposal.Clone(),
		coord:     c,
		survivors: slices.Clone(msg.Survivors),
		phase:     pFlushing,
		heard:     m.now,
		started:   m.now,
	})
	// Members leaving the view no longer hold back stability (and so the
	// drain below); members staying count again if an earlier round had
	// left them out.
	for r, e := range m.view.Members {
		m.flush.Exclude(r, !slices.Contains(msg.Survivors, e))
	}
	m.collect()
	m.tryFlushOK()
	if m.part.phase == pFlushing {
		m.repeatReply()
	}
}

// validProposal checks that a flush's survivors are members of the current
// view and that its proposal keeps their order.
func (m *Member) validProposal(msg *ctlMsg) bool {
	for _, e := range msg.Survivors {
		if !m.view.Has(e) {
			return false
		}
	}
	return len(msg.Proposal.Members) <= MaxMembers && m.plausibleLTime(msg.From, msg.Proposal.ID.LTime, false)
}

// consentAsJoiner answers a flush of another view that proposes to take
// this member in: when it is alone, or when its own view has flushed to be
// absorbed by exactly that view.
func (m *Member) consentAsJoiner(msg *ctlMsg) {
	if !slices.Contains(msg.Proposal.Members, m.self) {
		return
	}
	if !m.plausibleLTime(msg.From, msg.Proposal.ID.LTime, true) {
		m.count("drop.flush_ltime")
		return
	}
	if msg.Proposal.ID.LTime <= m.maxLTime && (m.part == nil || m.part.round != msg.Proposal.ID) {
		// Views are installed in increasing order: a view that does not
		// come after every view this member has known cannot be next.
		m.count("drop.flush_stale")
		return
	}
	c := msg.From
	p := m.part
	if m.cfg.Participant != nil && !msg.pair && (m.coord != nil || len(m.view.Members) == 1) {
		// A coordinator (or a process alone) consents only to a
		// coordinator it admitted by handshake, in a Flush sealed under
		// that handshake's secret (admission.go).
		m.count("drop.flush_unadmitted")
		return
	}
	switch {
	case p != nil && p.round == msg.Proposal.ID:
		p.heard = m.now
		m.repeatReply()
		return
	case p != nil && p.joiner && p.coord == c && msg.Proposal.ID.LTime > p.round.LTime:
	case p != nil && p.phase == pSynced && p.merge.ID != (ViewID{}) && p.merge.Coord == c:
		// This member's view has flushed to be absorbed by c's (which
		// it proved and fetched a cookie from), as long as c's view
		// comes later (above).
	case p == nil && m.coord == nil && len(m.view.Members) == 1 && !m.leaving && m.askedRecently(c):
		// Alone after asking c to absorb it: c's answer came late.
	default:
		m.count("drop.flush_foreign")
		return
	}
	m.stopCoordinating() // a merge this member was coordinating is taken over
	m.admissions = slices.DeleteFunc(m.admissions, func(a *admission) bool { return a.peer == c })
	m.block()
	m.becomeParticipant(&participation{
		round:    msg.Proposal.ID,
		proposal: msg.Proposal.Clone(),
		coord:    c,
		joiner:   true,
		phase:    pFlushed,
		heard:    m.now,
		started:  m.now,
	})
	m.trace(Trace{Consent: true, View: msg.Proposal})
	m.maxLTime = max(m.maxLTime, msg.Proposal.ID.LTime)
	m.part.reply = ctlMsg{Type: mFlushOK, Round: msg.Proposal.ID, Data: m.contribute(msg.Proposal)}
	m.repeatReply()
}

// sealedForRound reports whether msg, an end of the round (Install,
// Dismiss, Confirm, Refuse), may act: with a participant, one from a peer
// that is not a member of this member's view must have been opened under
// the round's view (which only members that processed its decision hold)
// or the pairwise sealing of an admission. The members of a view absorbed
// in a merge, other than its coordinator, share nothing else with the
// absorbing coordinator: their Flush, FlushOK and Prepare travel unsealed
// (each carries or is checked against what the participant signs), and
// anyone could otherwise make such a member install before every member
// confirmed, confirm for it, or dismiss it.
func (m *Member) sealedForRound(msg *ctlMsg) bool {
	if m.cfg.Participant == nil || msg.next || msg.pair || msg.From == m.self {
		return true
	}
	if m.view.Has(msg.From) && (m.part == nil || !m.part.joiner) {
		// A member of this view: unsealed, dropped before (receiveCtl).
		return true
	}
	m.count("drop.unsealed_round." + msg.Type.String())
	return false
}

// onDismiss takes a coordinator's word that the round this member consented
// to join goes on without it: the member goes on alone at once, and finds
// the group again by probing, rather than waiting for Timing.Stuck.
func (m *Member) onDismiss(msg *ctlMsg) {
	p := m.part
	if p == nil || !p.joiner || p.round != msg.Round || p.coord != msg.From || !m.sealedForRound(msg) {
		return
	}
	m.count("dismissed")
	m.debug("dismissed from a view change", "round", msg.Round)
	m.goAlone()
}

func (m *Member) contribute(v View) []byte {
	if m.cfg.Participant == nil {
		return nil
	}
	b := m.cfg.Participant.Contribute(v.Clone())
	if len(b) > maxBlob {
		// A FlushOK this large would be refused: the reply goes
		// without it, and the coordinator's Decide sees it missing.
		m.count("contribution_oversize")
		m.cfg.Logger.Warn("contribution to a view change dropped: larger than a FlushOK may carry",
			"self", m.self, "view", v.ID, "size", len(b), "max", maxBlob)
		return nil
	}
	return b
}

// repeatReply answers the coordinator again: with the last reply, or, while
// still draining or reaching the cut, with Wait, so that it does not take
// this member for dead.
func (m *Member) repeatReply() {
	p := m.part
	if p == nil {
		return
	}
	reply := p.reply
	if p.phase == pFlushing || p.phase == pSyncing {
		reply = ctlMsg{Type: mWait, Round: p.round}
	}
	if reply.Type != 0 {
		m.sendCtl(p.coord, &reply)
	}
}

// drained reports whether everything this member accepted to send in the
// view has gone out: multicasts numbered, point-to-point messages to the
// survivors acknowledged.
func (m *Member) drained() bool {
	if m.stack.Backlog() > 0 {
		return false
	}
	for _, e := range m.part.survivors {
		if r := m.view.Rank(e); r != m.rank && m.flush.Unacknowledged(r) {
			return false
		}
	}
	return true
}

// tryFlushOK reports this member's delivery vector once its own sends are
// out, and freezes the origins that are leaving the view: from here on
// their messages are delivered only up to the cut the coordinator sets.
func (m *Member) tryFlushOK() {
	p := m.part
	if p == nil || p.phase != pFlushing || !m.drained() {
		return
	}
	// A sequencer orders nothing more in this view: an order sent after
	// this member's count would be missing from the cut. What it has not
	// ordered is delivered at the view's end, in the same order
	// everywhere.
	m.flush.Block()
	// Block has outputs like any call into the stack (the sender
	// authentication layer's last batch, which this member delivers to
	// itself): take them before anything advances the stack.
	m.collect()
	vec := make([]uint64, len(m.view.Members))
	for r := range m.view.Members {
		if r == m.rank {
			vec[r] = m.flush.Sent()
		} else {
			vec[r] = m.flush.Delivered(r)
		}
		if slices.Contains(p.survivors, m.view.Members[r]) {
			m.flush.Cut(r, layers.NoCut, r)
		} else {
			m.flush.Cut(r, vec[r], r)
		}
	}
	// Lifting the cut of an origin an earlier round froze (a survivor
	// now) delivers what the stack held of it: take those deliveries
	// before anything advances the stack, or they are lost.
	m.collect()
	p.phase = pFlushed
	m.trace(Trace{Consent: true, View: p.proposal})
	m.maxLTime = max(m.maxLTime, p.round.LTime)
	p.reply = ctlMsg{Type: mFlushOK, Round: p.round, Vector: vec, Data: m.contribute(p.proposal)}
	m.repeatReply()
}

func (m *Member) onSync(msg *ctlMsg) {
	p := m.part
	if p == nil || p.joiner || msg.Round != p.round || msg.From != p.coord {
		return
	}
	p.heard = m.now
	switch p.phase {
	case pFlushing:
		return
	case pSyncing, pSynced:
		if msg.Summary != p.merge {
			// The coordinator found another view to ask.
			p.merge, p.cookie, p.reply.Cookie = msg.Summary, nil, nil
		}
		m.fetchMergeCookie()
		m.repeatReply()
		return
	}
	n := len(m.view.Members)
	if len(msg.Vector) != n || len(msg.Holders) != n {
		m.count("drop.sync")
		return
	}
	for r := range n {
		if msg.Holders[r] >= uint64(n) || msg.Vector[r] < m.delivered(r) && !m.beyondOwnCount(r, msg) {
			// A cut below what this member delivered would break virtual
			// synchrony: refuse it, and let the coordinator go on
			// without this member.
			m.count("drop.sync_bad_cut")
			return
		}
	}
	for r := range n {
		m.flush.Cut(r, msg.Vector[r], int(msg.Holders[r]))
	}
	m.collect()
	p.merge = msg.Summary
	p.phase = pSyncing
	m.fetchMergeCookie()
	m.trySyncOK()
	if p.phase == pSyncing {
		m.repeatReply()
	}
}

// beyondOwnCount reports whether a cut of another surviving origin's
// multicasts below what this member delivered of them is that origin's
// own count (the coordinator names the origin as their holder, see
// beginSync): the origin sent nothing beyond it, so what this member
// delivered beyond it is an insider's forgery, which the sender
// authentication layer holds back from the application and drops at the
// view's end. The cut leaves the delivered count as it is (layers.Flush),
// and the others need not fetch what the origin never sent.
func (m *Member) beyondOwnCount(r int, msg *ctlMsg) bool {
	return r != m.rank && msg.Holders[r] == uint64(r) && slices.Contains(m.part.survivors, m.view.Members[r])
}

func (m *Member) delivered(r int) uint64 {
	if r == m.rank {
		return m.flush.Sent()
	}
	return m.flush.Delivered(r)
}

func (m *Member) trySyncOK() {
	p := m.part
	if p == nil || p.phase != pSyncing || !m.flush.ReachedCuts() {
		return
	}
	p.phase = pSynced
	p.reply = ctlMsg{Type: mSyncOK, Round: p.round, Cookie: p.cookie}
	m.repeatReply()
}

func (m *Member) onInstall(msg *ctlMsg) {
	if msg.Round == m.view.ID {
		if m.view.Has(msg.From) {
			m.sendCtl(msg.From, &ctlMsg{Type: mInstallAck, Round: msg.Round})
		}
		return
	}
	p := m.part
	if p == nil || msg.Round != p.round || msg.From != p.coord {
		return
	}
	if !m.sealedForRound(msg) {
		return
	}
	if !m.waitsForInstall() {
		return
	}
	m.sendCtl(msg.From, &ctlMsg{Type: mInstallAck, Round: msg.Round})
	m.installRound()
}

// installRound installs the view of the round this member takes part in,
// with the keys the participant returns for it. A participant that
// refuses to install keeps this member out: it goes on alone.
func (m *Member) installRound() {
	v := m.part.proposal
	var keys layers.Keys
	if P := m.cfg.Participant; P != nil && v.Has(m.self) {
		k, err := P.Install(v.Clone())
		if err != nil {
			m.count("install_refused")
			m.cfg.Logger.Warn("the participant refused to install a view", "self", m.self, "view", v.ID, "err", err)
			m.goAlone()
			return
		}
		keys = k
	}
	m.install(v, keys, false)
}

// onPrepare processes the decision's parts for this member and confirms
// it, or refuses.
func (m *Member) onPrepare(msg *ctlMsg) {
	p := m.part
	P := m.cfg.Participant
	if P == nil || p == nil || msg.Round != p.round || msg.From != p.coord {
		return
	}
	p.heard = m.now
	switch {
	case p.confirm.Type != 0:
		cp := p.confirm
		m.sendCtl(p.coord, &cp)
		return
	case p.phase == pFlushing:
		return
	}
	conf, err := P.Process(p.proposal.Clone(), msg.Data, msg.Own)
	if err == nil && len(conf) > maxConfirmation {
		err = errors.New("membership: confirmation longer than 1 KiB")
	}
	if err != nil {
		m.count("decisions_refused")
		m.debug("decision refused", "round", p.round, "err", err)
		p.confirm = ctlMsg{Type: mRefuse, Round: p.round}
		cp := p.confirm
		m.sendCtl(p.coord, &cp)
		return
	}
	p.prepared = true
	if r := p.proposal.Rank(m.self); r >= 0 {
		m.sealNext = newSealing(p.proposal, r, P.Authenticator(p.proposal.Clone(), r))
	}
	p.confirm = ctlMsg{Type: mConfirm, Round: p.round, Data: conf}
	cp := p.confirm
	m.sendCtl(p.coord, &cp)
}

// onDecideReq decides the round's proposal, as the decider the
// coordinator delegated to, in any phase of the round: the decision
// builds on the view, the proposal and the contributions, not on the cut,
// so that a coordinator may ask while the members still flush. A
// coordinator that asked itself decides its own round (decideOwn).
func (m *Member) onDecideReq(msg *ctlMsg) {
	if msg.From == m.self {
		m.decideOwn(msg.Round)
		return
	}
	p := m.part
	P := m.cfg.Participant
	if P == nil || p == nil || msg.Round != p.round || msg.From != p.coord {
		return
	}
	p.heard = m.now
	if p.decision == nil {
		contributions := make(map[Endpoint][]byte, len(msg.Parts))
		for _, c := range msg.Parts {
			contributions[c.E] = c.B
		}
		d, err := P.Decide(m.view.Clone(), p.proposal.Clone(), contributions, nil)
		switch {
		case errors.Is(err, ErrHold):
			m.count("decide_held")
			m.sendCtl(p.coord, &ctlMsg{Type: mWait, Round: p.round})
			return
		case err == nil:
			err = checkDecision(d, p.proposal)
		}
		if err != nil {
			// The refusal names the joiners the participant blamed,
			// when it can tell (a *JoinerError), so that the
			// coordinator retries without them only; the reason
			// stays here.
			m.count("decide_failed")
			m.debug("could not decide", "round", p.round, "err", err)
			var joiners []Endpoint
			if je := (*JoinerError)(nil); errors.As(err, &je) {
				joiners = blamed(je.Joiners, p.proposal.Members)
			}
			m.sendCtl(p.coord, &ctlMsg{Type: mRefuse, Round: p.round, Joiners: joiners})
			return
		}
		p.decision = &ctlMsg{Type: mDecision, Round: p.round, Data: d.Common, Parts: d.parts(p.proposal)}
	}
	cp := *p.decision
	m.sendCtl(p.coord, &cp)
}

func (m *Member) tickParticipant() {
	p := m.part
	if p == nil {
		return
	}
	m.tryFlushOK()
	m.trySyncOK()
	// A round that drags on (its coordinator silent, or alive but unable
	// to finish) is abandoned: this member goes on alone and merges back.
	if p := m.part; p != nil && (m.now-p.heard >= m.cfg.Timing.Stuck || m.now-p.started >= 2*m.cfg.Timing.Stuck) {
		m.goAlone()
	}
}
