package membership

import (
	"errors"
	"net/netip"
	"slices"
	"unicode/utf8"

	"github.com/conclave-go/conclave/internal/wire"
)

// Control messages travel outside any view's stack, each in a datagram of
// its own:
//
//	magic    byte     0xC1 (a stack datagram starts with its version, 1)
//	group    uint64   big endian
//	type     byte
//	from     endpoint
//	fields of the type, in the order of ctlMsg's fields below
//
// An endpoint is a family byte (4 or 6), the address (4 or 16 bytes), the
// port (2 bytes) and the incarnation (4 bytes, big endian); a view id is a
// logical time (uvarint) and an endpoint; lists are a uvarint count and
// their items. Decoding is strict: bounded counts, no duplicate members, no
// trailing bytes. The zero endpoint (an absent one) is encoded as an IPv6
// endpoint of all zeros. Encoding enforces the same bounds as decoding, so
// that nothing is sent that every receiver would refuse.
//
// Cookies (cookie.go): a Cookie or Echo is a uvarint length, 0 (none) or
// exactly cookieLen, and its bytes; a MergeReq's Cookies are cookieLen
// bytes each, one per member, with no length. A Probe's padding is a
// uvarint length (at most maxPad) and that many zero bytes. A Refused
// carries an identity, its provider and its name each a uvarint length (1
// to maxIdentityPart) and their bytes, then the reason, a uvarint length
// (at most MaxRefusalReason) and valid UTF-8.

// Magic is the first byte of every control datagram.
const Magic = 0xC1

// MaxMembers bounds a view's size and every list on the wire.
const MaxMembers = 256

// MaxLTime bounds the logical time of a view id on the wire. Logical times
// grow by one per view, so no group comes near it; a member also refuses a
// view id more than maxLTimeJump ahead of every one it has known, so that
// nobody can push its logical time towards the bound, let alone past
// 2^64−1.
const MaxLTime = 1 << 62

// maxBlob bounds the opaque bytes a participant adds to a message that
// fits a datagram: a hello, a contribution.
const maxBlob = 16 << 10

// maxConfirmation bounds a member's confirmation of a decision.
const maxConfirmation = 1 << 10

// maxCtlMessage bounds a control message cut into fragments: the largest,
// a Decision at MaxDecision with a full member list, is below it.
const maxCtlMessage = MaxDecision + 64<<10

// fragmentLen is the most bytes of a control message one Fragment carries;
// a message longer than that is cut into pieces of this length.
const fragmentLen = 32 << 10

// maxFragments bounds the pieces of one control message.
const maxFragments = (maxCtlMessage + fragmentLen - 1) / fragmentLen

// MaxControlDatagram bounds a control datagram: a control message longer
// than fragmentLen travels in fragments, each within this bound. Control
// datagrams are not cut to the stack's datagram size (a Flush of 256 IPv4
// members is 5.7 KiB), so a transport must carry datagrams of this size.
const MaxControlDatagram = 40 << 10

// probeMinLen is the length a member pads its probes to, so that any
// answer fits within three times the probe (anti-amplification): the
// largest answer, with IPv6 endpoints and both cookies, is 128 bytes.
const probeMinLen = 64

// maxPad bounds a probe's padding.
const maxPad = 1024

// MaxRefusalReason bounds the reason a Refused carries (UTF-8): a longer
// admission error is cut to it.
const MaxRefusalReason = 256

// maxIdentityPart bounds each of the provider and the name of an identity
// a Refused carries.
const maxIdentityPart = 1024

type msgType uint8

const (
	mProbe      msgType = iota + 1 // a coordinator looks for other views
	mProbeReply                    // "here is my view"
	mMergeReq                      // a flushed view asks to be absorbed
	mFlush                         // coordinator: block, report, consent to Proposal
	mFlushOK                       // member: my delivery vector (and consent)
	mSync                          // coordinator: reach this cut
	mSyncOK                        // member: cut reached
	mInstall                       // coordinator: install the proposal
	mInstallAck                    // member: installed
	mSuspect                       // member to coordinator: these seem dead
	mLeave                         // member to coordinator: remove me
	mWait                          // member to coordinator: alive, still flushing or syncing
	mDismiss                       // coordinator to joiner: the round goes on without you
	mDecideReq                     // coordinator to decider: decide the proposal
	mDecision                      // decider to coordinator: the decision
	mPrepare                       // coordinator: the decision's common part and yours
	mConfirm                       // member: processed; the participant's confirmation
	mRefuse                        // member: the decision cannot be processed; decider: it cannot decide
	mRekey                         // member to coordinator: start a rekey round
	mFragment                      // a piece of a control message too large for one datagram
	mSealed                        // a control message sealed by the view's authenticator (auth.go)
	mChallenge                     // coordinator to a proven requester: the nonce of an admission
	mHandshake                     // an admission handshake's message (admission.go)
	mRefused                       // coordinator to a joiner it refused after a handshake: why (admission.go)
)

var msgNames = [...]string{
	mProbe: "Probe", mProbeReply: "ProbeReply", mMergeReq: "MergeReq",
	mFlush: "Flush", mFlushOK: "FlushOK", mSync: "Sync", mSyncOK: "SyncOK",
	mInstall: "Install", mInstallAck: "InstallAck", mSuspect: "Suspect", mLeave: "Leave",
	mWait: "Wait", mDismiss: "Dismiss", mDecideReq: "DecideReq", mDecision: "Decision",
	mPrepare: "Prepare", mConfirm: "Confirm", mRefuse: "Refuse", mRekey: "Rekey", mFragment: "Fragment",
	mSealed: "Sealed", mChallenge: "Challenge", mHandshake: "Handshake", mRefused: "Refused",
}

func (t msgType) String() string {
	if int(t) < len(msgNames) && msgNames[t] != "" {
		return msgNames[t]
	}
	return "Unknown"
}

// ctlMsg is every control message; each type uses some of the fields.
type ctlMsg struct {
	Type msgType
	From Endpoint

	View      ViewID     // Flush, Suspect, Leave, MergeReq: the view it is about
	Summary   Summary    // Probe, ProbeReply: the sender's view; Sync: view to merge into
	Proposal  View       // Flush: the next view; MergeReq: the view to absorb
	Survivors []Endpoint // Flush: members of View taking part in the flush
	Round     ViewID     // FlushOK, Sync, SyncOK, Install, InstallAck, Wait, Dismiss: the proposal
	Vector    []uint64   // FlushOK: delivered per rank of View; Sync: the cut
	Holders   []uint64   // Sync: for each origin, the rank to ask for its messages
	Data      []byte     // FlushOK: contribution; Decision, Prepare: the common part; Confirm: the confirmation; Refused: the reason
	Suspects  []Endpoint // Suspect
	Cookie    []byte     // Probe, ProbeReply: the sender's cookie for the recipient; SyncOK: the member's cookie from the view to merge into
	Echo      []byte     // Probe, ProbeReply: the recipient's cookie for the sender, returned
	Pad       int        // Probe: zero bytes added so that answers stay small beside it
	Cookies   [][]byte   // MergeReq: for each member of Proposal, its cookie from the recipient
	Own       []byte     // Prepare: the recipient's part of the decision
	Parts     []part     // DecideReq: contributions; Decision: each member's part
	Frag      fragment   // Fragment
	Sealed    sealed     // Sealed (decoded only; auth.go encodes)
	Nonce     []byte     // Challenge, Handshake: the coordinator's nonce, nonceLen bytes
	Step      uint64     // Handshake: the message's number, from 1
	Peer      Identity   // Refused: the identity the coordinator authenticated for the recipient
	Joiners   []Endpoint // Refuse from the decider: the joiners its Decide blamed (none: all of the round's, or none if it has none)
	pair      bool       // opened by a pairwise sealing (not on the wire)
	next      bool       // opened by the sealing of the round's view, processed or installed (not on the wire)
}

// part is a member's blob in a list: a contribution or a part of a
// decision.
type part struct {
	E Endpoint
	B []byte
}

// fragment is a piece of a control message larger than fragmentLen: the
// sender numbers its large messages (ID), and cuts each into Count pieces.
type fragment struct {
	ID, Index, Count uint64
	Chunk            []byte
}

var errMagic = errors.New("membership: not a control datagram")

// encodeErr records the first bound a message being encoded exceeds.
type encodeErr struct{ err error }

func (e *encodeErr) check(ok bool, err error) {
	if !ok && e.err == nil {
		e.err = err
	}
}

func appendEndpoint(b []byte, e Endpoint) []byte {
	a := e.Addr.Addr()
	if a.Is4() {
		b = append(b, 4)
		a4 := a.As4()
		b = append(b, a4[:]...)
	} else {
		b = append(b, 6)
		a16 := a.As16()
		b = append(b, a16[:]...)
	}
	b = append(b, byte(e.Addr.Port()>>8), byte(e.Addr.Port()))
	return append(b, byte(e.Inc>>24), byte(e.Inc>>16), byte(e.Inc>>8), byte(e.Inc))
}

func readEndpoint(r *wire.Reader) Endpoint {
	var a netip.Addr
	switch r.Byte() {
	case 4:
		if b := r.Bytes(4); b != nil {
			a = netip.AddrFrom4([4]byte(b))
		}
	case 6:
		if b := r.Bytes(16); b != nil {
			a = netip.AddrFrom16([16]byte(b))
		}
		if a.Is4In6() {
			r.Fail(errAddress) // an IPv4 address has one encoding only
		}
	default:
		r.Fail(errAddress)
		return Endpoint{}
	}
	p := r.Bytes(2)
	inc := r.Bytes(4)
	if r.Err() != nil {
		return Endpoint{}
	}
	e := Endpoint{
		Addr: netip.AddrPortFrom(a, uint16(p[0])<<8|uint16(p[1])),
		Inc:  uint32(inc[0])<<24 | uint32(inc[1])<<16 | uint32(inc[2])<<8 | uint32(inc[3]),
	}
	if e == (Endpoint{Addr: netip.AddrPortFrom(netip.IPv6Unspecified(), 0)}) {
		// The zero endpoint (no coordinator, no view) is encoded so.
		return Endpoint{}
	}
	return e
}

func appendViewID(b []byte, id ViewID) []byte {
	return appendEndpoint(wire.AppendUvarint(b, id.LTime), id.Coord)
}

func readViewID(r *wire.Reader) ViewID {
	return ViewID{LTime: r.UvarintMax(MaxLTime), Coord: readEndpoint(r)}
}

func appendEndpoints(b []byte, es []Endpoint, e *encodeErr) []byte {
	e.check(len(es) <= MaxMembers, errListLen)
	b = wire.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = appendEndpoint(b, e)
	}
	return b
}

// readEndpoints reads a list of distinct endpoints, at least min long.
func readEndpoints(r *wire.Reader, min int) []Endpoint {
	n := int(r.UvarintMax(MaxMembers))
	if n < min {
		r.Fail(errList)
		return nil
	}
	es := make([]Endpoint, 0, n)
	for range n {
		e := readEndpoint(r)
		for _, seen := range es {
			if seen == e {
				r.Fail(errList)
				return nil
			}
		}
		es = append(es, e)
	}
	return es
}

func appendSummary(b []byte, s Summary, e *encodeErr) []byte {
	e.check(s.Size <= MaxMembers, errListLen)
	b = appendViewID(b, s.ID)
	b = wire.AppendUvarint(b, s.Size)
	return appendEndpoint(b, s.Coord)
}

func readSummary(r *wire.Reader) Summary {
	return Summary{ID: readViewID(r), Size: r.UvarintMax(MaxMembers), Coord: readEndpoint(r)}
}

func appendVector(b []byte, v []uint64, e *encodeErr) []byte {
	e.check(len(v) <= MaxMembers, errListLen)
	b = wire.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = wire.AppendUvarint(b, x)
	}
	return b
}

func readVector(r *wire.Reader) []uint64 {
	n := int(r.UvarintMax(MaxMembers))
	v := make([]uint64, 0, n)
	for range n {
		v = append(v, r.Uvarint())
	}
	return v
}

func appendBlob(b, blob []byte, e *encodeErr) []byte {
	return appendBlobMax(b, blob, maxBlob, e)
}

func appendBlobMax(b, blob []byte, max int, e *encodeErr) []byte {
	e.check(len(blob) <= max, errBlobLen)
	return append(wire.AppendUvarint(b, uint64(len(blob))), blob...)
}

func readBlob(r *wire.Reader) []byte { return readBlobMax(r, maxBlob) }

func readBlobMax(r *wire.Reader, max int) []byte {
	n := r.UvarintMax(uint64(max))
	if n == 0 {
		return nil
	}
	return r.Bytes(int(n))
}

// appendParts appends a list of distinct members' blobs, each at most max
// bytes and all at most total.
func appendParts(b []byte, ps []part, max, total int, e *encodeErr) []byte {
	e.check(len(ps) <= MaxMembers, errListLen)
	b = wire.AppendUvarint(b, uint64(len(ps)))
	sum := 0
	for _, p := range ps {
		b = appendEndpoint(b, p.E)
		b = appendBlobMax(b, p.B, max, e)
		sum += len(p.B)
	}
	e.check(sum <= total, errBlobLen)
	return b
}

func readParts(r *wire.Reader, max, total int) []part {
	n := int(r.UvarintMax(MaxMembers))
	ps := make([]part, 0, n)
	sum := 0
	for range n {
		p := part{E: readEndpoint(r), B: readBlobMax(r, max)}
		sum += len(p.B) // at most MaxMembers × max: no overflow
		if sum > total || slices.ContainsFunc(ps, func(q part) bool { return q.E == p.E }) {
			r.Fail(errList)
			return nil
		}
		ps = append(ps, p)
	}
	return ps
}

func appendCookie(b, c []byte, e *encodeErr) []byte {
	e.check(len(c) == 0 || len(c) == cookieLen, errCookie)
	return append(wire.AppendUvarint(b, uint64(len(c))), c...)
}

func readCookie(r *wire.Reader) []byte {
	switch r.UvarintMax(cookieLen) {
	case 0:
		return nil
	case cookieLen:
		return r.Bytes(cookieLen)
	}
	r.Fail(errCookie)
	return nil
}

func appendPad(b []byte, n int, e *encodeErr) []byte {
	e.check(n >= 0 && n <= maxPad, errPad)
	n = min(max(n, 0), maxPad)
	b = wire.AppendUvarint(b, uint64(n))
	for range n {
		b = append(b, 0)
	}
	return b
}

func readPad(r *wire.Reader) int {
	n := int(r.UvarintMax(maxPad))
	for _, x := range r.Bytes(n) {
		if x != 0 {
			r.Fail(errPad)
		}
	}
	return n
}

// encode appends the datagram for m in group to b. It fails, appending
// nothing, when a list, blob or cookie exceeds what decoding accepts.
func (m *ctlMsg) encode(b []byte, group uint64) ([]byte, error) {
	var e encodeErr
	for _, id := range []ViewID{m.View, m.Proposal.ID, m.Round, m.Summary.ID} {
		e.check(id.LTime <= MaxLTime, errLTime)
	}
	start := len(b)
	b = append(b, Magic)
	b = wire.AppendUint64(b, group)
	b = append(b, byte(m.Type))
	b = appendEndpoint(b, m.From)
	switch m.Type {
	case mProbe, mProbeReply:
		b = appendSummary(b, m.Summary, &e)
		b = appendCookie(b, m.Cookie, &e)
		b = appendCookie(b, m.Echo, &e)
		if m.Type == mProbe {
			b = appendPad(b, m.Pad, &e)
		}
	case mMergeReq:
		b = appendViewID(b, m.View)
		b = appendViewID(b, m.Proposal.ID)
		e.check(len(m.Proposal.Members) >= 1, errList)
		e.check(len(m.Cookies) == len(m.Proposal.Members), errCookie)
		b = appendEndpoints(b, m.Proposal.Members, &e)
		for _, c := range m.Cookies {
			e.check(len(c) == cookieLen, errCookie)
			b = append(b, c...)
		}
	case mFlush:
		b = appendViewID(b, m.View)
		b = appendViewID(b, m.Proposal.ID)
		b = appendEndpoints(b, m.Proposal.Members, &e)
		e.check(len(m.Survivors) >= 1, errList)
		b = appendEndpoints(b, m.Survivors, &e)
	case mFlushOK:
		b = appendViewID(b, m.Round)
		b = appendVector(b, m.Vector, &e)
		b = appendBlob(b, m.Data, &e)
	case mSync:
		b = appendViewID(b, m.Round)
		b = appendVector(b, m.Vector, &e)
		b = appendVector(b, m.Holders, &e)
		b = appendSummary(b, m.Summary, &e)
	case mSyncOK:
		b = appendViewID(b, m.Round)
		b = appendCookie(b, m.Cookie, &e)
	case mInstall, mInstallAck, mWait, mDismiss:
		b = appendViewID(b, m.Round)
	case mSuspect:
		b = appendViewID(b, m.View)
		e.check(len(m.Suspects) >= 1, errList)
		b = appendEndpoints(b, m.Suspects, &e)
	case mLeave, mRekey:
		b = appendViewID(b, m.View)
	case mDecideReq:
		b = appendViewID(b, m.Round)
		b = appendParts(b, m.Parts, maxBlob, MaxMembers*maxBlob, &e)
	case mDecision:
		b = appendViewID(b, m.Round)
		b = appendBlobMax(b, m.Data, MaxDecisionPart, &e)
		b = appendParts(b, m.Parts, MaxDecisionPart, MaxDecision, &e)
	case mPrepare:
		b = appendViewID(b, m.Round)
		b = appendBlobMax(b, m.Data, MaxDecisionPart, &e)
		b = appendBlobMax(b, m.Own, MaxDecisionPart, &e)
	case mConfirm:
		b = appendViewID(b, m.Round)
		b = appendBlobMax(b, m.Data, maxConfirmation, &e)
	case mRefuse:
		b = appendViewID(b, m.Round)
		b = appendEndpoints(b, m.Joiners, &e)
	case mChallenge:
		e.check(len(m.Nonce) == nonceLen, errNonce)
		b = append(b, m.Nonce...)
	case mHandshake:
		e.check(len(m.Nonce) == nonceLen, errNonce)
		e.check(m.Step >= 1 && m.Step <= MaxHandshakeMessages, errNonce)
		b = append(b, m.Nonce...)
		b = wire.AppendUvarint(b, m.Step)
		b = appendBlobMax(b, m.Data, MaxHandshakeMessage, &e)
	case mRefused:
		e.check(m.Peer.Provider != "" && m.Peer.Name != "", errRefused)
		e.check(utf8.Valid(m.Data), errRefused)
		b = appendBlobMax(b, []byte(m.Peer.Provider), maxIdentityPart, &e)
		b = appendBlobMax(b, []byte(m.Peer.Name), maxIdentityPart, &e)
		b = appendBlobMax(b, m.Data, MaxRefusalReason, &e)
	case mFragment:
		f := m.Frag
		e.check(f.Count >= 2 && f.Count <= maxFragments && f.Index < f.Count, errFragment)
		b = wire.AppendUvarint(b, f.ID)
		b = wire.AppendUvarint(b, f.Index)
		b = wire.AppendUvarint(b, f.Count)
		e.check(len(f.Chunk) >= 1, errFragment)
		b = appendBlobMax(b, f.Chunk, fragmentLen, &e)
	default:
		e.check(false, wire.ErrBadTag)
	}
	e.check(len(b)-start <= maxCtlMessage, errTooLarge)
	if e.err != nil {
		return b[:start], e.err
	}
	return b, nil
}

// decodeCtl parses a control datagram of group. The message's byte fields
// alias b.
func decodeCtl(b []byte, group uint64) (ctlMsg, error) {
	r := wire.NewReader(b)
	if r.Byte() != Magic {
		return ctlMsg{}, errMagic
	}
	if r.Uint64() != group {
		if r.Err() != nil {
			return ctlMsg{}, r.Err()
		}
		return ctlMsg{}, errOtherGroup
	}
	m := ctlMsg{Type: msgType(r.Byte()), From: readEndpoint(&r)}
	switch m.Type {
	case mSealed:
		sm, err := parseSealed(&r, b)
		if err != nil {
			return ctlMsg{}, err
		}
		m.Sealed = sm
		return m, nil
	case mProbe, mProbeReply:
		m.Summary = readSummary(&r)
		m.Cookie = readCookie(&r)
		m.Echo = readCookie(&r)
		if m.Type == mProbe {
			m.Pad = readPad(&r)
		}
	case mMergeReq:
		m.View = readViewID(&r)
		m.Proposal.ID = readViewID(&r)
		m.Proposal.Members = readEndpoints(&r, 1)
		if r.Err() == nil {
			// Bounded by MaxMembers: the count was checked above.
			m.Cookies = make([][]byte, 0, len(m.Proposal.Members))
			for range m.Proposal.Members {
				m.Cookies = append(m.Cookies, r.Bytes(cookieLen))
			}
		}
	case mFlush:
		m.View = readViewID(&r)
		m.Proposal.ID = readViewID(&r)
		m.Proposal.Members = readEndpoints(&r, 0)
		m.Survivors = readEndpoints(&r, 1)
	case mFlushOK:
		m.Round = readViewID(&r)
		m.Vector = readVector(&r)
		m.Data = readBlob(&r)
	case mSync:
		m.Round = readViewID(&r)
		m.Vector = readVector(&r)
		m.Holders = readVector(&r)
		m.Summary = readSummary(&r)
	case mSyncOK:
		m.Round = readViewID(&r)
		m.Cookie = readCookie(&r)
	case mInstall, mInstallAck, mWait, mDismiss:
		m.Round = readViewID(&r)
	case mSuspect:
		m.View = readViewID(&r)
		m.Suspects = readEndpoints(&r, 1)
	case mLeave, mRekey:
		m.View = readViewID(&r)
	case mDecideReq:
		m.Round = readViewID(&r)
		m.Parts = readParts(&r, maxBlob, MaxMembers*maxBlob)
	case mDecision:
		m.Round = readViewID(&r)
		m.Data = readBlobMax(&r, MaxDecisionPart)
		m.Parts = readParts(&r, MaxDecisionPart, MaxDecision)
	case mPrepare:
		m.Round = readViewID(&r)
		m.Data = readBlobMax(&r, MaxDecisionPart)
		m.Own = readBlobMax(&r, MaxDecisionPart)
	case mConfirm:
		m.Round = readViewID(&r)
		m.Data = readBlobMax(&r, maxConfirmation)
	case mRefuse:
		m.Round = readViewID(&r)
		// At most MaxMembers, distinct; the coordinator keeps only
		// the round's joiners (culprits in hooks.go).
		m.Joiners = readEndpoints(&r, 0)
	case mChallenge:
		m.Nonce = r.Bytes(nonceLen)
	case mHandshake:
		m.Nonce = r.Bytes(nonceLen)
		m.Step = r.UvarintMax(MaxHandshakeMessages)
		m.Data = readBlobMax(&r, MaxHandshakeMessage)
		if r.Err() == nil && m.Step == 0 {
			r.Fail(errNonce)
		}
	case mRefused:
		provider := readBlobMax(&r, maxIdentityPart)
		name := readBlobMax(&r, maxIdentityPart)
		m.Data = readBlobMax(&r, MaxRefusalReason)
		if r.Err() == nil && (len(provider) == 0 || len(name) == 0 || !utf8.Valid(m.Data)) {
			r.Fail(errRefused)
		}
		m.Peer = Identity{Provider: string(provider), Name: string(name)}
	case mFragment:
		m.Frag.ID = r.Uvarint()
		m.Frag.Index = r.UvarintMax(maxFragments - 1)
		m.Frag.Count = r.UvarintMax(maxFragments)
		m.Frag.Chunk = readBlobMax(&r, fragmentLen)
		if r.Err() == nil && (m.Frag.Count < 2 || m.Frag.Index >= m.Frag.Count || len(m.Frag.Chunk) == 0) {
			r.Fail(errFragment)
		}
	default:
		return ctlMsg{}, wire.ErrBadTag
	}
	if err := r.Done(); err != nil {
		return ctlMsg{}, err
	}
	return m, nil
}

var (
	errOtherGroup = errors.New("membership: datagram of another group")
	errAddress    = errors.New("membership: malformed address")
	errList       = errors.New("membership: malformed member list")
	errListLen    = errors.New("membership: list longer than MaxMembers")
	errBlobLen    = errors.New("membership: blob longer than 16 KiB")
	errCookie     = errors.New("membership: malformed cookie")
	errPad        = errors.New("membership: malformed padding")
	errLTime      = errors.New("membership: logical time beyond MaxLTime")
	errTooLarge   = errors.New("membership: control message larger than its bound")
	errFragment   = errors.New("membership: malformed fragment")
	errNonce      = errors.New("membership: malformed handshake message")
	errRefused    = errors.New("membership: malformed refusal")
)
