package secure

import (
	"bytes"
	"sync"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Pairwise control messages (membership.Pairwise: the replies a member
// sends the coordinator, and the few others one member only ever sends to
// one other) are authenticated with a MAC under a key only their sender
// and their recipient can derive, as NaCl's crypto_box does with two
// long-lived key pairs:
//
//	dh   = DH(own leaf private key, peer's leaf public key)  (crypto.Suite.DH)
//	prk  = KDF.Extract("", dh)
//	key  = ExpandWithLabel(prk, "conclave pairwise", PairContext, Nh)
//	tag  = MAC(key, uint32(sender's rank) || sealed message)
//
//	struct {
//	    opaque group_id<V>;   the participant's group id
//	    opaque low<V>;        the two leaf encryption keys, the smaller
//	    opaque high<V>;       first (bytes.Compare), so both sides agree
//	} PairContext;
//
// The leaf keys are the HPKE keys of the two members' leaves in the view's
// ratchet tree. The sealed message carries the group, the view, the
// sender's endpoint and rank and its sequence number (membership/auth.go),
// so the same key serves every view both leaves are in: a leaf changes
// only when its member commits (its path is refreshed) or joins, and a
// view change costs one DH at the coordinator (with the committer's new
// leaf) instead of a signature verification for each reply of each member.
// The key is the same in both directions: the sender's rank in the MAC's
// input keeps a message of one from opening as the other's, and a message
// that claims to come from its recipient never opens.
//
// What it proves: that the holder of the peer's leaf private key sent this
// message to this member. Nobody else can make it, other members included,
// unlike the view's Routine key. Unlike a signature, it proves nothing to
// a third member, which is why membership only gives this class to
// messages no third member reads or relays. And it allows key-compromise
// impersonation: whoever holds a member's leaf private key can forge
// Pairwise messages from any other member TO that member (a signature
// would not allow it). The thief of the coordinator's leaf key can so make
// the coordinator believe that members flushed, synced or confirmed;
// it needs nothing more than what that key already gives it (the epoch's
// secrets through the tree), and the key is replaced by the next commit
// of its member.
//
// A suite whose KEM has no Diffie-Hellman (X-Wing) signs Pairwise messages
// with the sender's leaf signature key instead, under its own label; so
// does an authenticator without this member's leaf private key of the view
// (a view processed and not installed: a committer's new leaf key stays in
// its pending commit until Install). Every authenticator opens both forms,
// told apart by length: a MAC is Nh bytes, a signature of the suites never
// is.

// pairLabel labels the pairwise key derivation, pairSigLabel the
// signatures of Pairwise messages made where no pairwise key is at hand.
const (
	pairLabel    = "conclave pairwise"
	pairSigLabel = "ConclavePairwise"
)

// pairID names a pair key: this member's leaf encryption key and the
// peer's.
type pairID struct{ own, peer string }

// pairCache keeps the pairwise keys a participant derived, by the two leaf
// keys, so that a key is derived once for as long as both leaves live. Its
// own lock: authenticators use it from membership's goroutine, without the
// participant's lock.
type pairCache struct {
	mu   sync.Mutex
	keys map[pairID]crypto.Secret
	dhs  int // DH computations, for tests
}

// get returns the key of the pair (own, peer), deriving it on first use.
func (c *pairCache) get(s *crypto.Suite, group []byte, priv *crypto.KEMPrivateKey, own, peer []byte) (crypto.Secret, error) {
	id := pairID{string(own), string(peer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if k, ok := c.keys[id]; ok {
		return k, nil
	}
	k, err := derivePairKey(s, group, priv, own, peer)
	if err != nil {
		return nil, err
	}
	c.dhs++
	if c.keys == nil {
		c.keys = make(map[pairID]crypto.Secret)
	}
	c.keys[id] = k
	return k, nil
}

// keep erases every key no live authenticator can use: at most one per
// peer and leaf of this member in those views.
func (c *pairCache) keep(live []*authenticator) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for id, k := range c.keys {
		if !pairUsed(live, id) {
			k.Zero()
			delete(c.keys, id)
		}
	}
}

// pairUsed reports whether an authenticator of live can ask for pair id.
func pairUsed(live []*authenticator, id pairID) bool {
	for _, a := range live {
		if a.priv == nil || string(a.encs[a.rank]) != id.own {
			continue
		}
		for r, e := range a.encs {
			if r != a.rank && string(e) == id.peer {
				return true
			}
		}
	}
	return false
}

// size is the number of keys kept.
func (c *pairCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.keys)
}

// derivePairKey derives the key of the pair of leaves own (whose private
// key is priv) and peer.
func derivePairKey(s *crypto.Suite, group []byte, priv *crypto.KEMPrivateKey, own, peer []byte) (crypto.Secret, error) {
	pub, err := s.ParseKEMPublicKey(peer)
	if err != nil {
		return nil, err
	}
	dh, err := s.DH(priv, pub)
	if err != nil {
		return nil, err
	}
	prk := s.Extract(nil, dh)
	dh.Zero()
	defer prk.Zero()
	lo, hi := own, peer
	if bytes.Compare(lo, hi) > 0 {
		lo, hi = hi, lo
	}
	w := mlsenc.NewWriter(make([]byte, 0, len(group)+len(lo)+len(hi)+12))
	w.Opaque(group)
	w.Opaque(lo)
	w.Opaque(hi)
	ctx, err := w.Bytes()
	if err != nil {
		return nil, err
	}
	return s.ExpandWithLabel(prk, pairLabel, ctx, s.HashSize())
}
