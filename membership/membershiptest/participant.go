// Package membershiptest provides a membership.Participant for tests and
// the simulator: admission by a three-message handshake authenticated with
// a pre-shared key, a toy key agreement in every view change, control
// messages authenticated with HMAC-SHA256 under each view's key, and the
// view's key handed to the stack as layers.Keys. It exercises every seam
// of the membership protocol; it is not a security protocol (anyone with
// the pre-shared key can claim any name) and must not be used as one.
//
// The toy key agreement: the decider draws a fresh 32-byte secret S per
// view. The decision's common part is a commitment to S (an HMAC under
// the pre-shared key), the view's epoch and the members' names (what
// Describe reports) and padding; each member's part is S masked with an
// HMAC of the pre-shared key over the view and that member, and padding.
// A member unmasks its part, checks it against the commitment, and
// confirms with an HMAC under the pre-shared key of the view, itself and
// the common part, which the coordinator checks.
//
// One Participant serves one member; give each member its own, with the
// same PSK and a Name of its own:
//
//	cfg.Participant = &membershiptest.Participant{PSK: psk, Name: "m1"}
//
// After a run, Epoch(id) is a fingerprint of the secret a member
// installed with view id: every member of a view must have the same.
package membershiptest

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"maps"
	"slices"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
)

// keepReceived is how many views' decisions Received remembers.
const keepReceived = 16

// secretLen is the length of a view's secret.
const secretLen = 32

// Participant is the test participant of one member. Set the exported
// fields before handing it to membership.New; read the records after.
type Participant struct {
	// Self is the member this participant serves, set by Start.
	Self membership.Endpoint
	// PSK is the pre-shared key every member of the group holds.
	PSK []byte
	// Name is this member's identity name (Provider "psk").
	Name string
	// Rand is the source of secrets and nonces; default crypto/rand.
	Rand io.Reader

	// HandshakePad is added to the handshake's first message, to make it
	// larger than a datagram.
	HandshakePad int
	// CommonPad and PartPad are added to each decision's common part and
	// to each member's part.
	CommonPad, PartPad int
	// Allow, if set, is the admission check: identities for which it
	// returns false are refused.
	Allow func(membership.Identity) bool
	// Refuse, if set, makes Process refuse the decision of next.
	Refuse func(next membership.View) bool
	// RefuseJoiner, if set, makes Decide fail with a
	// *membership.JoinerError naming the joiners of next (members not in
	// cur) for which it returns true, given their contributions.
	RefuseJoiner func(joiner membership.Endpoint, contribution []byte) bool
	// Delegate, if set, makes the last member of next that is a member of
	// cur the decider.
	Delegate bool
	// RekeyEvery, if set, makes the coordinator ask for a rekey round
	// when RekeyDue has been asked this many times in one view.
	RekeyEvery int

	pending   map[membership.ViewID][]byte      // processed, not yet installed: S
	described map[membership.ViewID]description // processed or installed
	installed map[membership.ViewID][]byte      // S of each view installed
	received  map[membership.ViewID]Received    // the last keepReceived only
	order     []membership.ViewID
	discarded int
	asked     int
	askedIn   membership.ViewID
	keys      []*Keys
	epoch     uint64 // of the view last installed
}

// description is what the decision of a view says of it: the members'
// names by rank and the view's epoch.
type description struct {
	names []string
	epoch uint64
}

// Received is what Process was given for one view.
type Received struct {
	Common, Own []byte
}

func (p *Participant) init() {
	if p.pending == nil {
		p.pending = make(map[membership.ViewID][]byte)
		p.installed = make(map[membership.ViewID][]byte)
		p.received = make(map[membership.ViewID]Received)
		p.described = make(map[membership.ViewID]description)
	}
	if p.Rand == nil {
		p.Rand = rand.Reader
	}
}

// mac is HMAC-SHA256 under the pre-shared key of the labelled parts.
func (p *Participant) mac(label string, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, p.PSK)
	h.Write([]byte(label))
	for _, b := range parts {
		h.Write(binary.BigEndian.AppendUint32(nil, uint32(len(b))))
		h.Write(b)
	}
	return h.Sum(nil)
}

func endpointBytes(e membership.Endpoint) []byte {
	b, _ := e.Addr.MarshalBinary()
	return binary.BigEndian.AppendUint32(b, e.Inc)
}

func viewBytes(v membership.View) []byte {
	return binary.BigEndian.AppendUint64(nil, v.ID.Wire())
}

// Start implements membership.Participant.
func (p *Participant) Start(self membership.Endpoint) {
	p.init()
	p.Self = self
}

// Identity is this member's identity.
func (p *Participant) Identity() membership.Identity {
	return membership.Identity{Provider: "psk", Name: p.Name}
}

// Handshake implements membership.Participant.
func (p *Participant) Handshake(initiator bool, self, peer membership.Endpoint, nonce []byte) (membership.Handshake, error) {
	p.init()
	h := &handshake{p: p, initiator: initiator}
	h.transcript = p.mac("prologue", nonce, endpointBytes(self), endpointBytes(peer))
	if !initiator {
		h.transcript = p.mac("prologue", nonce, endpointBytes(peer), endpointBytes(self))
	}
	return h, nil
}

// Admit implements membership.Participant.
func (p *Participant) Admit(peer membership.Endpoint, id membership.Identity) error {
	if id.Provider != "psk" {
		return errors.New("membershiptest: not a psk identity")
	}
	if p.Allow != nil && !p.Allow(id) {
		return errors.New("membershiptest: identity not allowed")
	}
	return nil
}

// Contribute implements membership.Participant: each member contributes
// its name.
func (p *Participant) Contribute(next membership.View) []byte { return []byte(p.Name) }

// Decider implements membership.Participant.
func (p *Participant) Decider(cur, next membership.View) membership.Endpoint {
	if len(next.Members) == 0 {
		// membership never asks for a view without members; a zero
		// endpoint (no member of next) leaves the decision to the
		// coordinator.
		return membership.Endpoint{}
	}
	if p.Delegate {
		// membership takes no joiner as decider: the last member
		// already in cur.
		for i := len(next.Members) - 1; i >= 0; i-- {
			if cur.Has(next.Members[i]) {
				return next.Members[i]
			}
		}
	}
	return next.Members[0]
}

// Decide implements membership.Participant.
func (p *Participant) Decide(cur, next membership.View, contributions map[membership.Endpoint][]byte, joiners map[membership.Endpoint]membership.Identity) (membership.Decision, error) {
	p.init()
	if p.RefuseJoiner != nil {
		var refused []membership.Endpoint
		for _, e := range next.Members {
			if !cur.Has(e) && p.RefuseJoiner(e, contributions[e]) {
				refused = append(refused, e)
			}
		}
		if refused != nil {
			return membership.Decision{}, &membership.JoinerError{Joiners: refused, Err: errors.New("membershiptest: joiner refused")}
		}
	}
	s := make([]byte, secretLen)
	if _, err := io.ReadFull(p.Rand, s); err != nil {
		return membership.Decision{}, err
	}
	common := p.mac("commit", viewBytes(next), s)
	common = appendDescription(common, next, contributions, p.epoch+1)
	common = append(common, make([]byte, p.CommonPad)...)
	d := membership.Decision{Common: common, Parts: make(map[membership.Endpoint][]byte, len(next.Members))}
	for _, e := range next.Members {
		part := p.mac("part", viewBytes(next), endpointBytes(e))
		for i := range part {
			part[i] ^= s[i]
		}
		d.Parts[e] = append(part, make([]byte, p.PartPad)...)
	}
	return d, nil
}

func (p *Participant) confirmation(next membership.View, member membership.Endpoint, common []byte) []byte {
	return p.mac("confirm", viewBytes(next), endpointBytes(member), common)
}

// Process implements membership.Participant.
func (p *Participant) Process(next membership.View, common, own []byte) ([]byte, error) {
	p.init()
	if _, ok := p.received[next.ID]; !ok {
		p.order = append(p.order, next.ID)
		if len(p.order) > keepReceived {
			delete(p.received, p.order[0])
			p.order = p.order[1:]
		}
	}
	p.received[next.ID] = Received{Common: bytes.Clone(common), Own: bytes.Clone(own)}
	if p.Refuse != nil && p.Refuse(next) {
		return nil, errors.New("membershiptest: decision refused")
	}
	if len(common) < sha256.Size || len(own) < secretLen {
		return nil, errors.New("membershiptest: decision too short")
	}
	me := p.Self
	s := p.mac("part", viewBytes(next), endpointBytes(me))
	for i := range s {
		s[i] ^= own[i]
	}
	if !hmac.Equal(p.mac("commit", viewBytes(next), s), common[:sha256.Size]) {
		return nil, errors.New("membershiptest: part does not match the commitment")
	}
	d, err := parseDescription(common[sha256.Size:], len(next.Members))
	if err != nil {
		return nil, err
	}
	p.pending[next.ID] = s
	p.described[next.ID] = d
	return p.confirmation(next, me, common), nil
}

// Verify implements membership.Participant.
func (p *Participant) Verify(next membership.View, common []byte, member membership.Endpoint, confirmation []byte) error {
	if !hmac.Equal(confirmation, p.confirmation(next, member, common)) {
		return errors.New("membershiptest: confirmation does not match")
	}
	return nil
}

// Discard implements membership.Participant.
func (p *Participant) Discard(next membership.View) {
	p.init()
	if s, ok := p.pending[next.ID]; ok {
		clear(s)
		delete(p.pending, next.ID)
		delete(p.described, next.ID)
		p.discarded++
	}
}

// Install implements membership.Participant.
func (p *Participant) Install(next membership.View) (layers.Keys, error) {
	p.init()
	s, ok := p.pending[next.ID]
	if !ok {
		return nil, errors.New("membershiptest: installing a view whose decision was not processed")
	}
	delete(p.pending, next.ID)
	for id, s := range p.pending {
		// Decisions of rounds that lost to this one.
		clear(s)
		delete(p.pending, id)
		delete(p.described, id)
		p.discarded++
	}
	p.installed[next.ID] = bytes.Clone(s)
	p.epoch = p.described[next.ID].epoch
	k := &Keys{View: next.ID, secret: s}
	p.keys = append(p.keys, k)
	return k, nil
}

// Authenticator implements membership.Participant: for an installed view,
// or one whose decision this member processed and has not installed yet.
func (p *Participant) Authenticator(v membership.View, rank int) membership.Authenticator {
	s, ok := p.installed[v.ID]
	if !ok {
		s = p.pending[v.ID]
	}
	return &authenticator{key: p.mac("control", viewBytes(v), s)}
}

// RekeyDue implements membership.Rekeyer.
func (p *Participant) RekeyDue(v membership.View, _ membership.ViewStats) bool {
	if p.RekeyEvery <= 0 {
		return false
	}
	if p.askedIn != v.ID {
		p.askedIn, p.asked = v.ID, 0
	}
	p.asked++
	return p.asked >= p.RekeyEvery
}

// Describe implements membership.Describer: the members' identities as
// they contributed them to the decision, and the view's epoch, one more
// than the decider's when it decided (a counter, as MLS's, not the
// fingerprint Epoch returns).
func (p *Participant) Describe(v membership.View) ([]membership.Identity, uint64, bool) {
	if _, ok := p.installed[v.ID]; !ok {
		return nil, 0, false
	}
	d := p.described[v.ID]
	ids := make([]membership.Identity, len(d.names))
	for i, n := range d.names {
		ids[i] = membership.Identity{Provider: "psk", Name: n}
	}
	return ids, d.epoch, true
}

// appendDescription appends to a decision's common part the epoch and the
// names the members of next contributed, by rank: the epoch (8 bytes),
// then each name as a 2-byte length and its bytes.
func appendDescription(b []byte, next membership.View, contributions map[membership.Endpoint][]byte, epoch uint64) []byte {
	b = binary.BigEndian.AppendUint64(b, epoch)
	for _, e := range next.Members {
		n := contributions[e]
		if len(n) > maxName {
			n = n[:maxName]
		}
		b = binary.BigEndian.AppendUint16(b, uint16(len(n)))
		b = append(b, n...)
	}
	return b
}

// maxName bounds a name in a decision.
const maxName = 255

// parseDescription reads what appendDescription wrote, for a view of n
// members, ignoring the padding after it.
func parseDescription(b []byte, n int) (description, error) {
	errShort := errors.New("membershiptest: decision too short for its description")
	if len(b) < 8 {
		return description{}, errShort
	}
	d := description{epoch: binary.BigEndian.Uint64(b), names: make([]string, 0, n)}
	b = b[8:]
	for range n {
		if len(b) < 2 {
			return description{}, errShort
		}
		l := int(binary.BigEndian.Uint16(b))
		if l > maxName || len(b)-2 < l {
			return description{}, errShort
		}
		d.names = append(d.names, string(b[2:2+l]))
		b = b[2+l:]
	}
	return d, nil
}

// Epoch returns a fingerprint of the secret installed with view id (the
// first 8 bytes of its SHA-256), and whether one was.
func (p *Participant) Epoch(id membership.ViewID) (uint64, bool) {
	s, ok := p.installed[id]
	if !ok {
		return 0, false
	}
	h := sha256.Sum256(s)
	return binary.BigEndian.Uint64(h[:8]), true
}

// Installed lists the views this participant installed a decision for.
func (p *Participant) Installed() []membership.ViewID {
	ids := slices.Collect(maps.Keys(p.installed))
	slices.SortFunc(ids, membership.ViewID.Compare)
	return ids
}

// Received returns what Process was given for view id, among the last 16
// views it processed.
func (p *Participant) Received(id membership.ViewID) (Received, bool) {
	r, ok := p.received[id]
	return r, ok
}

// Discarded is the number of processed decisions never installed.
func (p *Participant) Discarded() int { return p.discarded }

// Keys lists the key material handed to stacks, in order.
func (p *Participant) Keys() []*Keys { return slices.Clone(p.keys) }

// Keys is one view's key material as the test participant hands it to the
// stack.
type Keys struct {
	View     membership.ViewID
	secret   []byte
	released bool
}

// Secret returns the view's secret; nil once released.
func (k *Keys) Secret() []byte {
	if k.released {
		return nil
	}
	return k.secret
}

// Released reports whether the stack released the keys.
func (k *Keys) Released() bool { return k.released }

// Release implements layers.Keys: the secret is zeroed.
func (k *Keys) Release() {
	clear(k.secret)
	k.released = true
}

// authenticator is HMAC-SHA256 under the view's control key, over the
// class and the message, so that a tag of one class does not open as the
// other. Both classes are keyed by the view alone: unlike a secure
// participant's, its Change tags are not bound to their sender.
type authenticator struct{ key []byte }

func (a *authenticator) Seal(dst, msg []byte, c membership.Class) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte{byte(c)})
	h.Write(msg)
	return h.Sum(dst)
}

func (a *authenticator) Open(from int, msg, tag []byte, c membership.Class) error {
	if !hmac.Equal(a.Seal(nil, msg, c), tag) {
		return errors.New("membershiptest: control message not authentic")
	}
	return nil
}
