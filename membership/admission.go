package membership

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Admission. With a participant, a view is absorbed into another only
// after its coordinator (a process alone, for a join) and the absorbing
// coordinator have run the participant's handshake, before the absorbing
// side blocks:
//
//	J (joiner's coordinator)                C (absorbing coordinator)
//	Probe / ProbeReply: cookies prove both addresses (merge.go)
//	MergeReq{members, cookies}          ──▶  cookies checked; an admission
//	                                         slot (at most maxAdmissions),
//	                                         a fresh 16-byte nonce
//	                                    ◀──  Challenge{nonce}
//	Handshake{nonce, 1, msg}            ──▶  Consume, Create
//	                                    ◀──  Handshake{nonce, 2, msg}
//	Handshake{nonce, 3, msg}            ──▶  … until done: Admit(J, identity)
//	J, done: Admit(C, identity)              only now: the view change that
//	                                         takes J's members in (Flush)
//
// The nonce is the handshake's prologue, so that no message of one attempt
// is accepted in another, and every Handshake message carries it: one
// with a nonce of no attempt under way is dropped (drop.handshake). A
// message is at most MaxHandshakeMessage bytes (sent in fragments when
// longer than a datagram), a handshake at most MaxHandshakeMessages
// messages. Each side repeats its last message every Timing.Retry until
// the next arrives; an attempt with no progress for Timing.Flush, or not
// done within Timing.Merge, is abandoned (admissions_stalled) and its
// peer shunned (shun.go), so that a stalled or failed handshake costs the
// group an admission slot for a bounded time and blocks nothing.
//
// A coordinator that refuses J's identity once the handshake is done tells
// it so, once, in a Refused sealed under the handshake's secret (the
// identity it authenticated and its admission check's error, at most
// MaxRefusalReason bytes), to the address J's cookie proved; J acts on it
// only so sealed, stops waiting, shuns C, and reports it (LastRefusal).
// A joiner whose handshake is done when it Creates its last message (Noise
// XX) checks C's identity before sending it: that message carries what J
// tells of its view, and a coordinator J refuses gets nothing more.
//
//	C refuses J:  Handshake{nonce, 3, msg} ──▶  Admit(J) fails
//	                                       ◀──  Refused{J's identity, reason}
//	J refuses C:  ◀── Handshake{nonce, 2, msg}: Admit(C) fails, message 3
//	              is never sent, and C's attempt stalls
//
// The handshake's secret then authenticates every control message between
// the two until J is a member of C's view (a pairwise sealing, auth.go):
// J consents to a Flush only from a coordinator it admitted, sealed under
// that secret, so a stranger's Flush cannot capture it, and C acts on
// J's replies only when sealed so. A refusal is keyed by the
// authenticated identity: C vetoes the identity, whatever address or
// incarnation it comes from next. (The members of a view absorbed in a
// merge, other than its coordinator, enter vouched for by their
// coordinator's cookies and handshake; their own messages to C are not
// sealed until they have processed the merged view's decision, and from
// then on sealed under that view: auth.go.)

// With a participant, a coordinator that finds a view to be absorbed by
// (a process alone too) authenticates that view's coordinator before it
// blocks its own, or waits to be absorbed: it asks for admission alone
// first, with a MergeReq whose proposal has the zero view id and names
// only itself, and runs the handshake above; only once it has admitted
// the other coordinator does it flush its view and send the MergeReq
// naming its members, which the other takes in without a new handshake
// (freshPair). A stranger that proves its address and claims to
// absorb the view thus learns nothing of its members and blocks no one
// unless it completes a handshake with a credential the view admits; nor
// does a process alone wait for it, answering no other view's merge
// request meanwhile. A coordinator already waiting to be absorbed turns
// to a view that ranks above the one it waits for (merge.go) the same
// way: only once it has admitted that view's coordinator.
//
//	J                                       C
//	MergeReq{zero id, [J], cookie}      ──▶  cookie checked
//	                                    ◀──  Challenge{nonce}
//	Handshake …                         ◀─▶  … done: pairwise sealing,
//	J: Admit(C); only now J blocks           nobody taken in yet
//	MergeReq{members, cookies}          ──▶  the view change (Flush)

// authenticating is the view a coordinator asked to be admitted to before
// it blocks its own for a merge.
type authenticating struct {
	other  Summary
	cookie []byte // the other coordinator's cookie for this one
}

// askAdmission asks the coordinator of other, which proved its address
// and would absorb this view, for an admission alone, before anything of
// this view is blocked or told.
func (m *Member) askAdmission(other Summary, cookie []byte) {
	if len(cookie) != cookieLen {
		return
	}
	m.authenticating = authenticating{other: other, cookie: bytes.Clone(cookie)}
	m.asked = asked{coord: other.Coord, at: m.now}
	m.count("admissions_asked")
	m.sendCtlTo(other.Coord.Addr, &ctlMsg{Type: mMergeReq, View: other.ID,
		Proposal: View{Members: []Endpoint{m.self}}, Cookies: [][]byte{cookie}})
}

// onAdmissionRequest takes a request for admission alone, at the
// coordinator a view would be absorbed by (its sender's cookie checked).
func (m *Member) onAdmissionRequest(msg *ctlMsg) {
	if m.cfg.Participant == nil || len(msg.Proposal.Members) != 1 || !m.isCoordinator() || m.leaving || m.view.Has(msg.From) {
		m.count("drop.merge_req")
		return
	}
	if m.shunned.shuns(msg.From.Addr, m.now) || m.identityVetoed(msg.From) {
		m.count("drop.merge_req_shunned")
		return
	}
	m.startAdmission(pendingMerge{from: msg.From, at: m.now, only: true})
}

// admittedToMerge starts the merge this coordinator was authenticating the
// other coordinator for, now that the handshake with peer is done.
func (m *Member) admittedToMerge(peer Endpoint) {
	a := m.authenticating
	if a.other.Coord != peer {
		return
	}
	m.authenticating = authenticating{}
	if m.view.Has(a.other.Coord) || !absorbs(a.other, m.summary()) {
		return
	}
	if c := m.coord; c != nil && c.phase == cMergeWait && c.merge.Coord != a.other.Coord && absorbs(a.other, c.merge) && !m.leaving {
		// Asked while this view waited to be absorbed by one that
		// a.other's would absorb (merge.go): it asks a.other instead.
		m.redirectMerge(a.other)
		return
	}
	free := m.coord == nil && m.part == nil && !m.blocked && !m.leaving && m.isCoordinator()
	if !free {
		return
	}
	m.startMerge(a.other, a.cookie)
}

// maxAdmissions bounds the handshakes a coordinator runs at once.
const maxAdmissions = 16

// nonceLen is the length of a coordinator's nonce.
const nonceLen = 16

// maxPairs bounds the pairwise sealings a member keeps.
const maxPairs = maxAdmissions + MaxMembers

type admission struct {
	peer      Endpoint
	initiator bool
	nonce     []byte
	hs        Handshake
	step      uint64 // messages sent and consumed so far
	last      ctlMsg // this side's last message, repeated
	started   time.Duration
	progress  time.Duration
	sentAt    time.Duration
	done      bool
	merge     pendingMerge // at the coordinator: the request that started it
	// only: at the joiner, an admission asked for before blocking, which
	// no Flush may follow (its view may be busy when it is done).
	only bool
}

// pair is the sealing of control messages between a coordinator and a
// joiner it admitted.
type pair struct {
	s       *sealing
	at      time.Duration // last used
	created time.Duration
	view    ViewID // this member's view when the handshake was done
}

// freshPair reports whether this member admitted e within Timing.Merge and
// has installed no view since: a merge between the two then needs no new
// handshake (it repeats the one the admission answered).
//
// What the handshake vouched for holds only as long as neither view
// changed: the initiator's roster names the members of its view as it
// was, and the participant forgets it once the initiator is a member of
// the responder's view. A pair that outlived a view change (e joined this
// view, then a partition split it off again) vouches for nothing of a
// merge, and the two run the handshake anew.
func (m *Member) freshPair(e Endpoint) bool {
	p := m.pairs[e]
	return p != nil && m.now-p.created < m.cfg.Timing.Merge && p.view == m.view.ID
}

// pairSealing builds the sealing two peers share after a handshake: a
// view of the coordinator (rank 0) and the joiner (rank 1), with an
// HMAC-SHA256 key derived from the handshake's secret.
func pairSealing(coord, joiner Endpoint, initiator bool, secret []byte) *sealing {
	mac := func(label string) []byte {
		h := hmac.New(sha256.New, secret)
		h.Write([]byte(label))
		return h.Sum(nil)
	}
	v := View{Members: []Endpoint{coord, joiner}}
	rank := 0
	if initiator {
		rank = 1
	}
	s := newSealing(v, rank, pairAuth{key: mac("conclave pair control")})
	s.wireID = binary.BigEndian.Uint64(mac("conclave pair id"))
	return s
}

// pairAuth seals the control messages between a coordinator and a peer it
// admitted with an HMAC under their handshake's secret, which only the two
// of them know: every tag is already bound to its sender, whatever its
// class.
type pairAuth struct{ key []byte }

func (a pairAuth) Seal(dst, msg []byte, _ Class) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write(msg)
	return h.Sum(dst)
}

func (a pairAuth) Open(_ int, msg, tag []byte, c Class) error {
	if !hmac.Equal(a.Seal(nil, msg, c), tag) {
		return errors.New("membership: pairwise tag does not match")
	}
	return nil
}

// identityVetoed reports whether the identity e authenticated is vetoed.
func (m *Member) identityVetoed(e Endpoint) bool {
	id, ok := m.identities[e]
	return ok && m.vetoedIDs[id]
}

// startAdmission answers a proven MergeReq at the coordinator with a
// challenge, unless an attempt for its sender is under way.
func (m *Member) startAdmission(pm pendingMerge) {
	i := slices.IndexFunc(m.admissions, func(a *admission) bool { return a.peer == pm.from })
	if i >= 0 {
		a := m.admissions[i]
		a.merge = pm
		if a.step == 0 {
			m.sendCtl(a.peer, &ctlMsg{Type: mChallenge, Nonce: a.nonce})
		}
		return
	}
	if len(m.admissions) >= maxAdmissions {
		m.count("drop.admission_full")
		return
	}
	nonce := make([]byte, nonceLen)
	if _, err := io.ReadFull(m.cfg.Rand, nonce); err != nil {
		m.count("admission_failed")
		return
	}
	hs, err := m.cfg.Participant.Handshake(false, m.self, pm.from, nonce)
	if err != nil {
		m.count("admission_failed")
		return
	}
	delete(m.pairs, pm.from) // the new handshake replaces what an earlier one made
	a := &admission{peer: pm.from, nonce: nonce, hs: hs, started: m.now, progress: m.now, merge: pm}
	m.admissions = append(m.admissions, a)
	m.count("admissions_started")
	m.sendCtl(a.peer, &ctlMsg{Type: mChallenge, Nonce: nonce})
}

// onChallenge starts the handshake as joiner, with a coordinator this
// member asked to absorb its view.
func (m *Member) onChallenge(msg *ctlMsg) {
	if m.cfg.Participant == nil || len(msg.Nonce) != nonceLen {
		return
	}
	c := m.coord
	asking := c != nil && c.phase == cMergeWait && c.merge.Coord == msg.From || m.askedRecently(msg.From)
	if !asking {
		m.count("drop.challenge")
		return
	}
	if i := slices.IndexFunc(m.admissions, func(a *admission) bool { return a.peer == msg.From }); i >= 0 {
		if string(m.admissions[i].nonce) == string(msg.Nonce) {
			m.repeatHandshake(m.admissions[i])
			return
		}
		m.admissions = slices.Delete(m.admissions, i, i+1) // the coordinator started over
	}
	if len(m.admissions) >= maxAdmissions {
		m.count("drop.admission_full")
		return
	}
	hs, err := m.cfg.Participant.Handshake(true, m.self, msg.From, msg.Nonce)
	if err != nil {
		m.count("admission_failed")
		return
	}
	delete(m.pairs, msg.From) // the coordinator admits this member anew
	merging := c != nil && c.phase == cMergeWait && c.merge.Coord == msg.From
	a := &admission{peer: msg.From, initiator: true, nonce: slices.Clone(msg.Nonce), hs: hs, started: m.now, progress: m.now,
		only: !merging && m.authenticating.other.Coord == msg.From}
	m.admissions = append(m.admissions, a)
	m.stepHandshake(a)
}

// stepHandshake sends this side's next message.
func (m *Member) stepHandshake(a *admission) {
	out, done, err := a.hs.Create()
	if err == nil && len(out) > MaxHandshakeMessage {
		err = errors.New("membership: handshake message longer than MaxHandshakeMessage")
	}
	if err != nil {
		m.count("admission_failed")
		m.debug("handshake failed", "peer", a.peer, "err", err)
		m.endAdmission(a)
		return
	}
	a.step++
	a.last = ctlMsg{Type: mHandshake, Nonce: a.nonce, Step: a.step, Data: out}
	if done && a.initiator {
		// The joiner's last message carries what it tells of its view
		// (its roster, with a secure participant): it goes only to a
		// coordinator this member admits, and one it refuses gets
		// nothing more from it.
		id, secret, ok := m.checkPeer(a)
		if !ok {
			return
		}
		m.repeatHandshake(a)
		m.admitted(a, id, secret)
		return
	}
	m.repeatHandshake(a)
	if done {
		m.admissionDone(a)
	}
}

func (m *Member) repeatHandshake(a *admission) {
	if a.last.Type == 0 {
		return
	}
	a.sentAt = m.now
	cp := a.last
	m.sendCtl(a.peer, &cp)
}

func (m *Member) onHandshake(msg *ctlMsg) {
	i := slices.IndexFunc(m.admissions, func(a *admission) bool { return a.peer == msg.From && string(a.nonce) == string(msg.Nonce) })
	if i < 0 {
		m.count("drop.handshake")
		return
	}
	a := m.admissions[i]
	switch {
	case msg.Step <= a.step:
		// A repeat: the peer has not had this side's answer.
		m.repeatHandshake(a)
		return
	case msg.Step != a.step+1 || a.done:
		m.count("drop.handshake")
		return
	}
	done, err := a.hs.Consume(msg.Data)
	if err != nil {
		// A forged or replayed message: dropped, the attempt goes on
		// until its deadline.
		m.count("drop.handshake_refused")
		return
	}
	a.step++
	a.progress = m.now
	if done {
		m.admissionDone(a)
		return
	}
	if a.step >= MaxHandshakeMessages {
		m.count("admission_failed")
		m.endAdmission(a)
		return
	}
	m.stepHandshake(a)
}

// admissionDone checks the peer's identity with the participant.
func (m *Member) admissionDone(a *admission) {
	if id, secret, ok := m.checkPeer(a); ok {
		m.admitted(a, id, secret)
	}
}

// checkPeer takes the result of a finished handshake and checks the
// peer's identity with the participant. A refused peer is vetoed and
// shunned, and the attempt ends; a refused joiner is told why (sendRefused).
func (m *Member) checkPeer(a *admission) (Identity, []byte, bool) {
	a.done = true
	id, secret := a.hs.Result()
	if len(secret) < 32 {
		m.count("admission_failed")
		m.endAdmission(a)
		return Identity{}, nil, false
	}
	err := m.cfg.Participant.Admit(a.peer, id)
	if err == nil && m.vetoedIDs[id] {
		err = errors.New("membership: identity vetoed")
	}
	if err != nil {
		m.count("admissions_refused")
		m.debug("peer refused", "peer", a.peer, "identity", id, "err", err)
		m.rememberIdentity(a.peer, id)
		m.vetoJoiner(a.peer)
		m.shunned.shun(a.peer.Addr, m.now, m.cfg.Timing.Merge)
		m.endAdmission(a)
		if a.initiator {
			m.abandonMerge(a.peer)
		} else {
			m.sendRefused(a.peer, id, secret, err)
		}
		return Identity{}, nil, false
	}
	return id, secret, true
}

// admitted goes on with a peer whose identity this member admitted.
func (m *Member) admitted(a *admission, id Identity, secret []byte) {
	m.count("admissions_done")
	m.rememberIdentity(a.peer, id)
	if a.initiator {
		m.setPair(a.peer, pairSealing(a.peer, m.self, true, secret))
		// The last message stays, repeated until the coordinator's
		// Flush shows it arrived.
		m.admittedToMerge(a.peer)
		return
	}
	m.setPair(a.peer, pairSealing(m.self, a.peer, false, secret))
	pm := a.merge
	m.endAdmission(a)
	if !pm.only {
		m.addMerge(pm)
	}
}

// sendRefused tells a joiner this coordinator refused, once their
// handshake is done, why: the identity the handshake authenticated and
// the admission check's error, cut to MaxRefusalReason bytes, sealed
// under the handshake's secret (pairSealing), which the joiner alone
// shares. It goes once per attempt (the attempt has ended), and only to
// the address the attempt runs with, which proved that it receives there
// (the cookie of its MergeReq); it tells nothing of the group's members
// or traffic.
func (m *Member) sendRefused(to Endpoint, id Identity, secret []byte, err error) {
	if id.Provider == "" || id.Name == "" || len(id.Provider) > maxIdentityPart || len(id.Name) > maxIdentityPart {
		return
	}
	msg := ctlMsg{Type: mRefused, Peer: id, Data: []byte(refusalReason(err))}
	m.sendCtlVia(to, &msg, pairSealing(m.self, to, false, secret))
}

// refusalReason is the text of an admission error as a refused peer is
// shown it: valid UTF-8, at most MaxRefusalReason bytes.
func refusalReason(err error) string {
	r := strings.ToValidUTF8(err.Error(), "\uFFFD")
	if len(r) <= MaxRefusalReason {
		return r
	}
	n := MaxRefusalReason
	for n > 0 && !utf8.RuneStart(r[n]) {
		n--
	}
	return r[:n]
}

// A Refusal is what a coordinator that refused this member after their
// admission handshake told it.
type Refusal struct {
	// Coordinator refused; CoordinatorIdentity is its identity, as
	// this member's handshake authenticated it.
	Coordinator         Endpoint
	CoordinatorIdentity Identity
	// Identity is this member's identity, as the coordinator
	// authenticated it; Reason is the coordinator's admission check's
	// error (at most MaxRefusalReason bytes), in its words.
	Identity Identity
	Reason   string
	// At is when it came, on this member's clock.
	At time.Duration
}

// LastRefusal returns the last refusal a coordinator sent this member,
// if any.
func (m *Member) LastRefusal() (Refusal, bool) {
	return m.refusal, !m.refusal.Coordinator.IsZero()
}

// onRefused takes a coordinator's word that it refused this member. It
// counts only opened under the sealing of a handshake this member
// finished with that coordinator, as joiner, and still holds: anyone else
// could send it to make a joiner give up. The attempt ends, the
// coordinator's address is shunned (its view is not asked to absorb this
// one for a while, shun.go), a merge waiting for it installs its
// fallback view at once, and the application hears of it
// (admissions_refused_by_peer, a warning with the identity and the
// reason, LastRefusal).
func (m *Member) onRefused(msg *ctlMsg) {
	i := slices.IndexFunc(m.admissions, func(a *admission) bool { return a.peer == msg.From && a.initiator && a.done })
	if !msg.pair || i < 0 {
		m.count("drop.refused")
		return
	}
	m.endAdmission(m.admissions[i])
	delete(m.pairs, msg.From)
	m.count("admissions_refused_by_peer")
	m.shunned.shun(msg.From.Addr, m.now, m.cfg.Timing.Merge)
	m.refusal = Refusal{Coordinator: msg.From, CoordinatorIdentity: m.identities[msg.From], Identity: msg.Peer, Reason: string(msg.Data), At: m.now}
	m.cfg.Logger.Warn("a group's coordinator refused this member", "self", m.self, "coordinator", msg.From,
		"coordinator_identity", m.refusal.CoordinatorIdentity, "identity", msg.Peer, "reason", m.refusal.Reason)
	if m.authenticating.other.Coord == msg.From {
		m.authenticating = authenticating{}
	}
	m.abandonMerge(msg.From)
}

// abandonMerge ends this coordinator's wait to be absorbed by peer's
// view, which will not take it in: the round installs its fallback view
// now rather than at the end of Timing.Merge.
func (m *Member) abandonMerge(peer Endpoint) {
	if c := m.coord; c != nil && c.phase == cMergeWait && c.merge.Coord == peer {
		m.debug("refused by the view to be absorbed by; installing the fallback view", "absorbed_by", c.merge.ID)
		c.phase, c.phaseAt = cDecide, m.now
		m.decide()
	}
}

// admissionProgress is when the admission with peer last made progress,
// or zero.
func (m *Member) admissionProgress(peer Endpoint) time.Duration {
	for _, a := range m.admissions {
		if a.peer == peer {
			return a.progress
		}
	}
	return 0
}

// rememberIdentity records the identity a handshake authenticated for e.
// Only peers with a pairwise sealing need theirs kept (for the decision and
// for vetoes): past maxPairs, the others are forgotten.
func (m *Member) rememberIdentity(e Endpoint, id Identity) {
	m.identities[e] = id
	if len(m.identities) <= maxPairs {
		return
	}
	for k := range m.identities {
		if k != e && m.pairs[k] == nil {
			delete(m.identities, k)
		}
	}
}

func (m *Member) endAdmission(a *admission) {
	m.admissions = slices.DeleteFunc(m.admissions, func(x *admission) bool { return x == a })
}

func (m *Member) setPair(e Endpoint, s *sealing) {
	if m.pairs == nil {
		m.pairs = make(map[Endpoint]*pair)
	}
	if len(m.pairs) >= maxPairs {
		var oldest Endpoint
		first := true
		for k, p := range m.pairs {
			if first || p.at < m.pairs[oldest].at || p.at == m.pairs[oldest].at && k.Compare(oldest) < 0 {
				oldest, first = k, false
			}
		}
		delete(m.pairs, oldest)
	}
	m.pairs[e] = &pair{s: s, at: m.now, created: m.now, view: m.view.ID}
}

// tickAdmissions repeats handshake messages and abandons stalled attempts.
func (m *Member) tickAdmissions() {
	t := &m.cfg.Timing
	for _, a := range slices.Clone(m.admissions) {
		if a.done && a.initiator && a.only && m.now-a.started >= t.Merge {
			// Done, and nothing owed: the merge it was for may not
			// have started (this view was busy), or not yet reached
			// the other coordinator. Its next merge asks again.
			m.count("admissions_expired")
			m.endAdmission(a)
			continue
		}
		if m.now-a.progress >= t.Flush && !(a.done && a.initiator) || m.now-a.started >= t.Merge {
			m.count("admissions_stalled")
			m.shunned.shun(a.peer.Addr, m.now, t.Merge)
			m.endAdmission(a)
			continue
		}
		if m.now-a.sentAt >= t.Retry {
			m.repeatHandshake(a)
		}
	}
	for e, p := range m.pairs {
		if m.now-p.at >= 2*t.Stuck && !m.view.Has(e) {
			delete(m.pairs, e)
		}
	}
}
