package secure

import (
	"errors"
	"slices"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/membership"
)

// Control messages of a view are authenticated by its epoch:
//
//	Routine  HMAC (the suite's MAC) under a key derived from the epoch's
//	         membership key (RFC 9420 §8), ExpandWithLabel(membership_key,
//	         "conclave control", "", Nh): any member of the view can make
//	         it, nobody else.
//	Change   SignWithLabel("ConclaveControl", msg) with the sender's
//	         signature key, checked with the signature key of the leaf of
//	         the member of rank from: nobody can make it for another.
//
// The two tags differ in kind and length, so that a tag of one class
// never opens as the other.

// controlLabel labels the signatures of Change control messages,
// controlKeyLabel the derivation of the Routine key.
const (
	controlLabel    = "ConclaveControl"
	controlKeyLabel = "conclave control"
)

// authenticator authenticates the control messages of one view.
type authenticator struct {
	view  membership.ViewID
	suite *crypto.Suite
	key   crypto.Secret      // the view's routine key; erased when retired
	sig   *crypto.SigningKey // this member's signature key
	pubs  [][]byte           // the members' signature keys, by rank
	dead  bool               // retired: seals and opens nothing
}

// keepAuthenticators is how many views' authenticators stay usable: the
// current view's and the one before, which membership still opens
// Install and InstallAck with. Older ones are retired and their keys
// erased.
const keepAuthenticators = 2

// retire erases the key of every authenticator but those of the
// keepAuthenticators newest views.
func (p *Participant) retire() {
	var keep []membership.ViewID
	for i := len(p.auths) - 1; i >= 0; i-- {
		a := p.auths[i]
		if !slices.Contains(keep, a.view) && len(keep) < keepAuthenticators {
			keep = append(keep, a.view)
		}
		if !slices.Contains(keep, a.view) {
			a.dead = true
			a.key.Zero()
			p.auths = slices.Delete(p.auths, i, i+1)
		}
	}
}

// Seal implements membership.Authenticator.
func (a *authenticator) Seal(dst, msg []byte, c membership.Class) []byte {
	if a.dead {
		return dst
	}
	if c == membership.Change {
		s, err := a.suite.SignWithLabel(a.sig, controlLabel, msg)
		if err != nil {
			return dst // an empty tag: the receivers drop the message
		}
		return append(dst, s...)
	}
	return append(dst, a.suite.MAC(a.key, msg)...)
}

var errForged = errors.New("secure: control message not authentic")

// Open implements membership.Authenticator, in constant time for MACs.
func (a *authenticator) Open(from int, msg, tag []byte, c membership.Class) error {
	if a.dead || from < 0 || from >= len(a.pubs) {
		return errForged
	}
	switch c {
	case membership.Change:
		if a.suite.VerifyWithLabel(a.pubs[from], controlLabel, msg, tag) != nil {
			return errForged
		}
	case membership.Routine:
		if !a.suite.VerifyMAC(a.key, msg, tag) {
			return errForged
		}
	default:
		return errForged
	}
	return nil
}

// refusing is the authenticator of a view without keys: it opens nothing,
// and its tags are empty.
type refusing struct{}

func (refusing) Seal(dst, _ []byte, _ membership.Class) []byte { return dst }

func (refusing) Open(int, []byte, []byte, membership.Class) error {
	return errors.New("secure: this member holds no keys for the view")
}

// Authenticator implements membership.Participant: the authenticator of
// view v, installed with its epoch; one that refuses every message for a
// view this member holds no epoch of.
func (p *Participant) Authenticator(v membership.View, rank int) membership.Authenticator {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.view = v.Clone()
	st := p.cur
	if st == nil || st.view.ID != v.ID || len(st.leaves) != len(v.Members) {
		p.cfg.Logger.Warn("a view without keys: its control messages are refused", "self", p.self, "view", v.ID)
		return refusing{}
	}
	// From the epoch's membership key, not its exporter: the exporter is
	// the application's (Export), and must not hand out this key.
	key, err := p.suite.ExpandWithLabel(st.group.Epoch().MembershipKey(), controlKeyLabel, nil, p.suite.HashSize())
	if err != nil {
		return refusing{}
	}
	a := &authenticator{view: v.ID, suite: p.suite, key: key, sig: p.sig, pubs: make([][]byte, len(v.Members))}
	t := st.group.Tree()
	for r, l := range st.leaves {
		leaf := t.Leaf(l)
		if leaf == nil {
			return refusing{}
		}
		a.pubs[r] = leaf.SignatureKey
	}
	p.auths = append(p.auths, a)
	p.retire()
	return a
}
