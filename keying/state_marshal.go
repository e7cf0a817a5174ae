package keying

import (
	"bytes"
	"errors"
	"slices"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// groupStateVersion is the version of the saved state's encoding.
const groupStateVersion uint8 = 1

// maxSavedKeys bounds the private keys of a saved state: a leaf, its
// direct path and pending updates.
const maxSavedKeys = 4 * MaxPathNodes

// ErrGroupState is returned for a saved group state that does not decode or
// is not consistent.
var ErrGroupState = errors.New("keying: malformed saved group state")

// Marshal encodes the member's whole state, secrets included, so that a
// member can be restarted: versioned, and strict to decode. The result is
// a crypto.Secret: it never prints, and the caller zeros it when written.
// (Encryption at rest is the caller's.)
//
//	struct {
//	    uint8 version = 1;
//	    uint16 suite;
//	    uint32 leaf;
//	    optional<Node> ratchet_tree<V>;
//	    GroupContext context;
//	    opaque interim_transcript_hash<V>;
//	    uint64 refreshed<V>;
//	    struct { uint32 node; opaque key<V>; } keys<V>;  // ascending nodes
//	    opaque pending_update_keys<V><V>;               // ascending bytes
//	    opaque signing_key<V>;
//	    opaque epoch<V>;      // SaveEpochState: the epoch and its secret tree
//	} GroupState;
//
// The epoch and, if the caller made it, the epoch's secret tree st are
// saved with SaveEpochState: each sender ratchet is saved past every
// generation it handed out, and an epoch whose secret tree was made no
// longer holds the encryption secret, so a restored member can neither
// make the tree again nor reuse a (key, nonce) pair.
func (g *Group) Marshal(st *SecretTree) (crypto.Secret, error) {
	if g.prepared != nil {
		return nil, ErrCommitPending
	}
	epoch, err := SaveEpochState(g.epoch, st)
	if err != nil {
		return nil, err
	}
	defer epoch.Zero()
	sk, err := g.sig.Bytes()
	if err != nil {
		return nil, err
	}
	defer sk.Zero()
	var toZero []crypto.Secret
	defer func() {
		for _, s := range toZero {
			s.Zero()
		}
	}()
	w := mlsenc.NewWriter(nil)
	w.Uint8(groupStateVersion)
	w.Uint16(uint16(g.suite.ID()))
	w.Uint32(g.priv.Leaf)
	g.tree.Encode(w)
	g.gc.Encode(w)
	w.Opaque(g.interim)
	w.Vector(func(w *mlsenc.Writer) {
		for _, e := range g.refreshed {
			w.Uint64(e)
		}
	})
	var keyErr error
	w.Vector(func(w *mlsenc.Writer) {
		for x := uint32(0); x < uint32(len(g.tree.nodes)); x++ {
			k := g.priv.keys[x]
			if k == nil {
				continue
			}
			b, err := k.Bytes()
			if err != nil {
				keyErr = err
				return
			}
			toZero = append(toZero, b)
			w.Uint32(x)
			w.Opaque(b)
		}
	})
	var pending []crypto.Secret
	for _, k := range g.pending {
		b, err := k.Bytes()
		if err != nil {
			keyErr = err
			break
		}
		toZero = append(toZero, b)
		pending = append(pending, b)
	}
	// Sorted, so that a state has exactly one encoding.
	slices.SortFunc(pending, func(a, b crypto.Secret) int { return bytes.Compare(a, b) })
	w.Vector(func(w *mlsenc.Writer) {
		for _, b := range pending {
			w.Opaque(b)
		}
	})
	w.Opaque(sk)
	w.Opaque(epoch)
	out, err := w.Bytes()
	if err == nil {
		err = keyErr
	}
	if err != nil {
		crypto.Secret(out).Zero()
		return nil, err
	}
	return crypto.Secret(out), nil
}

// Unmarshal restores a state Marshal made, with the secret tree if one was
// saved. Everything is checked: the
// version, every length, the tree's syntax and hash against the group
// context, that every private key matches its node's public key and the
// signing key the member's leaf, and that no byte trails.
func Unmarshal(b []byte) (*Group, *SecretTree, error) {
	r := mlsenc.NewReader(b)
	if r.Uint8() != groupStateVersion {
		return nil, nil, ErrGroupState
	}
	s, err := crypto.LookupSuite(crypto.SuiteID(r.Uint16()))
	if err != nil {
		return nil, nil, ErrGroupState
	}
	leaf := r.Uint32()
	tree := DecodeTree(s, r)
	gc := DecodeGroupContext(r)
	interim := r.Opaque(MaxHashLen)
	var refreshed []uint64
	r.Vector(mlsenc.MaxVarint, func(v *mlsenc.Reader) {
		if v.Len()%8 != 0 {
			v.Fail(ErrGroupState)
			return
		}
		refreshed = make([]uint64, 0, v.Len()/8)
		for !v.Empty() {
			refreshed = append(refreshed, v.Uint64())
		}
	})
	type savedKey struct {
		x uint32
		b []byte
	}
	var keys []savedKey
	r.Elements(maxSavedKeys*(MaxPublicKeyLen+8), func(e *mlsenc.Reader) {
		if len(keys) == maxSavedKeys {
			e.Fail(ErrGroupState)
			return
		}
		keys = append(keys, savedKey{e.Uint32(), e.Opaque(MaxPublicKeyLen)})
	})
	var pending [][]byte
	r.Elements(maxSavedKeys*(MaxPublicKeyLen+4), func(e *mlsenc.Reader) {
		if len(pending) == maxSavedKeys {
			e.Fail(ErrGroupState)
			return
		}
		pending = append(pending, e.Opaque(MaxPublicKeyLen))
	})
	skb := r.Opaque(MaxPublicKeyLen)
	epochb := r.Opaque(mlsenc.MaxVarint)
	if err := r.Done(); err != nil {
		return nil, nil, err
	}
	if gc.Suite != s.ID() || !tree.Occupied(leaf) || len(refreshed) != int(tree.leaves) ||
		!bytes.Equal(tree.TreeHash(), gc.TreeHash) {
		return nil, nil, ErrGroupState
	}
	g := &Group{
		suite:     s,
		tree:      tree,
		priv:      &PrivateKeys{Leaf: leaf, keys: map[uint32]*crypto.KEMPrivateKey{}},
		gc:        cloneGroupContext(&gc),
		interim:   bytes.Clone(interim),
		refreshed: refreshed,
		pending:   map[string]*crypto.KEMPrivateKey{},
	}
	fail := func() (*Group, *SecretTree, error) {
		g.Destroy()
		return nil, nil, ErrGroupState
	}
	for i, k := range keys {
		// Ascending node order, and pending keys in ascending byte order
		// below: one encoding per state.
		if i > 0 && keys[i-1].x >= k.x {
			return fail()
		}
		pk, err := s.ParseKEMPrivateKey(k.b)
		if err != nil {
			return fail()
		}
		g.priv.keys[k.x] = pk
	}
	if g.priv.keys[leafNode(leaf)] == nil || g.priv.Check(tree) != nil {
		return fail()
	}
	for i, b := range pending {
		if i > 0 && bytes.Compare(pending[i-1], b) >= 0 {
			return fail()
		}
		pk, err := s.ParseKEMPrivateKey(b)
		if err != nil {
			return fail()
		}
		g.pending[string(pk.PublicKey().Bytes())] = pk
	}
	if g.sig, err = s.ParseSigningKey(skb); err != nil || !bytes.Equal(g.sig.PublicKey(), tree.Leaf(leaf).SignatureKey) {
		return fail()
	}
	e, st, err := LoadEpochState(epochb)
	if err != nil || e.Suite().ID() != s.ID() || e.Number() != gc.Epoch {
		if e != nil {
			e.Destroy()
		}
		return fail()
	}
	g.epoch = e
	return g, st, nil
}
