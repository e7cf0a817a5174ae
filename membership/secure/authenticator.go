package secure

import (
	"bytes"
	"crypto/hmac"
	"encoding/binary"
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
//	Pairwise the suite's MAC under the key of the sender's and the
//	         recipient's leaves (pairwise.go), or where there is none
//	         SignWithLabel("ConclavePairwise", msg): nobody but the
//	         sender can make it for the recipient.
//
// The tags differ in kind, key, label or length, so that a tag of one
// class never opens as another.

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
	// rank is this member's rank in the view; encs are the members'
	// leaf encryption keys, by rank, and priv this member's private one
	// (a copy, destroyed when retired), nil where Pairwise messages are
	// signed (pairwise.go). pair holds the pair keys as they are first
	// used, by rank; cache is the participant's, which owns them.
	rank  int
	encs  [][]byte
	priv  *crypto.KEMPrivateKey
	pair  []crypto.Secret
	cache *pairCache
	group []byte
	// noRoutine: no Routine key (a view this member committed, not yet
	// installed): Routine messages are neither sealed nor opened.
	noRoutine bool
	// processed: of a view processed and not installed, retired when
	// its decision is discarded or any view is installed (membership
	// then asks for the installed view's own).
	processed bool
}

// keepAuthenticators is how many installed views' authenticators stay
// usable: the current view's and the one before, which membership still
// opens Install and InstallAck with. Older ones are retired and their
// keys erased.
const keepAuthenticators = 2

// retire erases the key of every authenticator but those of the
// keepAuthenticators newest installed views and of the views processed
// and not installed.
func (p *Participant) retire() {
	var keep []membership.ViewID
	for i := len(p.auths) - 1; i >= 0; i-- {
		a := p.auths[i]
		if a.processed {
			if p.pending[a.view] == nil {
				p.retireAt(i)
			}
			continue
		}
		if !slices.Contains(keep, a.view) && len(keep) < keepAuthenticators {
			keep = append(keep, a.view)
		}
		if !slices.Contains(keep, a.view) {
			p.retireAt(i)
		}
	}
}

// retireAt erases the key of the authenticator p.auths[i] and forgets it.
func (p *Participant) retireAt(i int) {
	a := p.auths[i]
	a.dead = true
	a.key.Zero()
	if a.priv != nil {
		a.priv.Destroy()
		a.priv = nil
	}
	a.pair = nil // the cache erases the keys no live authenticator uses
	p.auths = slices.Delete(p.auths, i, i+1)
}

// Seal implements membership.Authenticator.
func (a *authenticator) Seal(dst, msg []byte, c membership.Class) []byte {
	if a.dead {
		return dst
	}
	switch c {
	case membership.Change:
		return a.sign(dst, controlLabel, msg)
	case membership.Pairwise:
		return a.sign(dst, pairSigLabel, msg)
	case membership.Routine:
		if a.noRoutine {
			return dst
		}
		return append(dst, a.suite.MAC(a.key, msg)...)
	}
	return dst
}

// sign appends the sender's signature of msg under label.
func (a *authenticator) sign(dst []byte, label string, msg []byte) []byte {
	s, err := a.suite.SignWithLabel(a.sig, label, msg)
	if err != nil {
		return dst // an empty tag: the receivers drop the message
	}
	return append(dst, s...)
}

// SealTo implements membership.PairSealer: a Pairwise message to the
// member of rank to, with a MAC under the pair's key, or signed where
// this authenticator has none.
func (a *authenticator) SealTo(dst, msg []byte, to int) []byte {
	if a.dead {
		return dst
	}
	k := a.pairKey(to)
	if k == nil {
		return a.sign(dst, pairSigLabel, msg)
	}
	return append(dst, a.pairMAC(k, a.rank, msg)...)
}

// pairMAC is the tag of a Pairwise message from the member of rank from:
// the MAC of from and the message, so that the pair's key, the same in
// both directions, never opens a message as sent the other way.
func (a *authenticator) pairMAC(k crypto.Secret, from int, msg []byte) []byte {
	b := make([]byte, 0, 4+len(msg))
	b = binary.BigEndian.AppendUint32(b, uint32(from))
	return a.suite.MAC(k, append(b, msg...))
}

// pairKey is the key this member shares with the member of rank r, nil
// if there is none (no private key, r is this member or out of the view,
// the two leaves are the same or DH fails).
func (a *authenticator) pairKey(r int) crypto.Secret {
	if a.priv == nil || r < 0 || r >= len(a.encs) || r == a.rank || bytes.Equal(a.encs[r], a.encs[a.rank]) {
		return nil
	}
	if a.pair[r] == nil {
		k, err := a.cache.get(a.suite, a.group, a.priv, a.encs[a.rank], a.encs[r])
		if err != nil {
			return nil
		}
		a.pair[r] = k
	}
	return a.pair[r]
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
		if a.noRoutine || !a.suite.VerifyMAC(a.key, msg, tag) {
			return errForged
		}
	case membership.Pairwise:
		if from == a.rank {
			return errForged
		}
		if len(tag) != a.suite.HashSize() {
			if a.suite.VerifyWithLabel(a.pubs[from], pairSigLabel, msg, tag) != nil {
				return errForged
			}
			return nil
		}
		k := a.pairKey(from)
		if k == nil || !hmac.Equal(a.pairMAC(k, from, msg), tag) {
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
// view v, installed with its epoch, or processed and not yet installed
// (membership seals the end of a round under it); one that refuses every
// message for a view this member holds no epoch of.
//
// The epoch of a view this member committed itself is not the group's
// until Install (the commit is pending in the group, and keying gives out
// the next epoch's secrets only once it is confirmed): until then its
// authenticator signs and checks Change messages with the next view's
// leaves, which the pending commit has already written into the tree,
// and has no Routine key, so that it seals and opens no Routine message
// (none is sent under a view not yet installed).
func (p *Participant) Authenticator(v membership.View, rank int) membership.Authenticator {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.cur
	routine := true
	if pd := p.pending[v.ID]; pd != nil && (st == nil || st.view.ID != v.ID) {
		st = pd.st
		routine = !pd.own || p.commit == nil || p.commit.pc == nil
	} else {
		// Membership installed v (with or without keys).
		p.view = v.Clone()
	}
	if st == nil || st.view.ID != v.ID || len(st.leaves) != len(v.Members) {
		p.cfg.Logger.Warn("a view without keys: its control messages are refused", "self", p.self, "view", v.ID)
		return refusing{}
	}
	if rank < 0 || rank >= len(v.Members) {
		return refusing{}
	}
	a := &authenticator{view: v.ID, suite: p.suite, sig: p.sig, pubs: make([][]byte, len(v.Members)), processed: st != p.cur,
		rank: rank, encs: make([][]byte, len(v.Members)), pair: make([]crypto.Secret, len(v.Members)), cache: &p.pairs, group: p.groupID}
	if routine {
		// From the epoch's membership key, not its exporter: the
		// exporter is the application's (Export), and must not hand
		// out this key.
		key, err := p.suite.ExpandWithLabel(st.group.Epoch().MembershipKey(), controlKeyLabel, nil, p.suite.HashSize())
		if err != nil {
			return refusing{}
		}
		a.key = key
	} else {
		a.noRoutine = true
	}
	for r := range st.leaves {
		leaf := st.leaf(r)
		if leaf == nil {
			return refusing{}
		}
		a.pubs[r] = leaf.SignatureKey
		a.encs[r] = leaf.EncryptionKey
	}
	if !a.processed && p.suite.HasDH() {
		// An installed epoch: this member's leaf private key is its
		// group's (a committer's new one only once its commit is
		// confirmed, which is why a processed view has none).
		if k := st.group.LeafKeyCopy(); k != nil && bytes.Equal(k.PublicKey().Bytes(), a.encs[rank]) {
			a.priv = k
		} else if k != nil {
			k.Destroy()
		}
	}
	p.auths = append(p.auths, a)
	p.retire()
	p.pairs.keep(p.auths)
	return a
}
