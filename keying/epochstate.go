package keying

import (
	"errors"
	"sort"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// A member's key schedule and secret tree state, saved so that a member can
// be restarted from disk (encryption at rest is the caller's business: the
// encoding is a crypto.Secret):
//
//	struct {
//	    uint8 version = 1;
//	    uint16 cipher_suite;
//	    uint64 epoch;
//	    opaque secrets<V>[11];   // joiner, welcome, sender data, encryption,
//	                             // exporter, external, confirmation,
//	                             // membership, resumption, authenticator,
//	                             // init: each empty or KDF.Nh bytes
//	    uint8 has_tree;          // 0 or 1
//	    SecretTreeState tree;    // if has_tree
//	} EpochState;
//
//	struct {
//	    uint32 leaf_count;                 // a power of two
//	    NodeSecret nodes<V>;               // { uint32 node; opaque secret<V>; }
//	                                       // ascending node, disjoint subtrees
//	    LeafRatchets ratchets<V>;          // { uint32 leaf; RatchetState
//	                                       //   handshake, application; }
//	                                       // ascending leaf
//	} SecretTreeState;
//
//	struct {
//	    uint64 next_generation;            // at most 2^32
//	    opaque secret<V>;                  // KDF.Nh bytes, empty if exhausted
//	    SkippedKey kept<V>;                // { uint32 generation; opaque
//	                                       //   key<V>; opaque nonce<V>; }
//	                                       // ascending, within the window
//	} RatchetState;
//
// Every field is checked on decoding: sizes against the suite, orders
// strict, so that each state has exactly one encoding.
//
// A sender's ratchet is saved with its next generation past every
// generation it has handed out (Next and NextBlock advance it before they
// return), so a restored member starts a new generation and can never reuse
// a (key, nonce) pair, whatever it had sent of a block before it stopped.

const epochStateVersion = 1

// maxEpochStateVector bounds each vector of a saved state.
const maxEpochStateVector = 1 << 28

// ErrEpochState is returned for a saved state that does not decode.
var ErrEpochState = errors.New("keying: malformed saved epoch state")

// SaveEpochState encodes e and, if not nil, its secret tree.
func SaveEpochState(e *Epoch, t *SecretTree) (crypto.Secret, error) {
	if t != nil && (t.gone || t.suite != e.suite) {
		return nil, ErrSecretTreeGone
	}
	w := mlsenc.NewWriter(nil)
	w.Uint8(epochStateVersion)
	w.Uint16(uint16(e.suite.ID()))
	w.Uint64(e.epoch)
	for _, s := range e.secrets() {
		w.Opaque(*s)
	}
	w.Bool(t != nil)
	if t != nil {
		t.encode(w)
	}
	b, err := w.Bytes()
	return crypto.Secret(b), err
}

func (t *SecretTree) encode(w *mlsenc.Writer) {
	w.Uint32(t.leaves)
	nodes := make([]uint32, 0, len(t.nodes))
	for n := range t.nodes {
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i] < nodes[j] })
	w.Vector(func(w *mlsenc.Writer) {
		for _, n := range nodes {
			w.Uint32(n)
			w.Opaque(t.nodes[n])
		}
	})
	leaves := make([]uint32, 0, len(t.ratchets))
	for l := range t.ratchets {
		leaves = append(leaves, l)
	}
	sort.Slice(leaves, func(i, j int) bool { return leaves[i] < leaves[j] })
	w.Vector(func(w *mlsenc.Writer) {
		for _, l := range leaves {
			w.Uint32(l)
			t.ratchets[l][HandshakeRatchet].encode(w)
			t.ratchets[l][ApplicationRatchet].encode(w)
		}
	})
}

func (r *Ratchet) encode(w *mlsenc.Writer) {
	w.Uint64(r.next)
	w.Opaque(r.secret)
	gens := make([]uint32, 0, len(r.skipped))
	for g := range r.skipped {
		gens = append(gens, g)
	}
	sort.Slice(gens, func(i, j int) bool { return gens[i] < gens[j] })
	w.Vector(func(w *mlsenc.Writer) {
		for _, g := range gens {
			k := r.skipped[g]
			w.Uint32(g)
			w.Opaque(k.Key)
			w.Opaque(k.Nonce)
		}
	})
}

// LoadEpochState decodes a state SaveEpochState made. The tree is nil if
// none was saved. The secrets are copied out of b, which the caller may
// zero afterwards.
func LoadEpochState(b []byte) (*Epoch, *SecretTree, error) {
	r := mlsenc.NewReader(b)
	if r.Uint8() != epochStateVersion {
		return nil, nil, ErrEpochState
	}
	s, err := crypto.LookupSuite(crypto.SuiteID(r.Uint16()))
	if err != nil {
		return nil, nil, ErrEpochState
	}
	e := &Epoch{suite: s, epoch: r.Uint64()}
	for _, p := range e.secrets() {
		x := r.Opaque(s.HashSize())
		if len(x) != 0 && len(x) != s.HashSize() {
			r.Fail(ErrEpochState)
		}
		if len(x) != 0 {
			*p = crypto.Secret(x).Clone()
		}
	}
	var t *SecretTree
	if r.Bool() {
		t = decodeSecretTree(r, s)
	}
	if err := r.Done(); err != nil {
		e.Destroy()
		if t != nil {
			t.Destroy()
		}
		if errors.Is(err, ErrEpochState) {
			return nil, nil, err
		}
		return nil, nil, errors.Join(ErrEpochState, err)
	}
	return e, t, nil
}

func decodeSecretTree(r *mlsenc.Reader, s *crypto.Suite) *SecretTree {
	leaves := r.Uint32()
	if r.Err() != nil {
		return nil
	}
	if leaves == 0 || leaves > maxSecretTreeLeaves || leaves&(leaves-1) != 0 {
		r.Fail(ErrEpochState)
		return nil
	}
	t := &SecretTree{suite: s, leaves: leaves, nodes: map[uint32]crypto.Secret{}, ratchets: map[uint32]*[2]*Ratchet{}}
	width := 2*uint64(leaves) - 1
	// spans of the stored nodes, in ascending order, to check that no
	// stored node lies under another or over a seeded leaf.
	type span struct{ lo, hi uint64 }
	var spans []span
	r.Elements(maxEpochStateVector, func(e *mlsenc.Reader) {
		n := e.Uint32()
		sec := e.Opaque(s.HashSize())
		if e.Err() != nil {
			return
		}
		if uint64(n) >= width || len(sec) != s.HashSize() {
			e.Fail(ErrEpochState)
			return
		}
		k := uint64(stLevel(n))
		lo := (uint64(n) + 1 - (1 << k)) / 2
		sp := span{lo, lo + 1<<k}
		if len(spans) > 0 && spans[len(spans)-1].hi > sp.lo {
			// Out of order or overlapping.
			e.Fail(ErrEpochState)
			return
		}
		spans = append(spans, sp)
		t.nodes[n] = crypto.Secret(sec).Clone()
	})
	var last int64 = -1
	r.Elements(maxEpochStateVector, func(e *mlsenc.Reader) {
		l := e.Uint32()
		if e.Err() != nil {
			return
		}
		if l >= leaves || int64(l) <= last {
			e.Fail(ErrEpochState)
			return
		}
		last = int64(l)
		i := sort.Search(len(spans), func(i int) bool { return spans[i].hi > uint64(l) })
		if i < len(spans) && spans[i].lo <= uint64(l) {
			// A seeded leaf under a stored node would be seeded twice.
			e.Fail(ErrEpochState)
			return
		}
		hs := decodeRatchet(e, s)
		as := decodeRatchet(e, s)
		if e.Err() == nil {
			t.ratchets[l] = &[2]*Ratchet{hs, as}
		}
	})
	if r.Err() != nil {
		t.Destroy()
		return nil
	}
	return t
}

func decodeRatchet(r *mlsenc.Reader, s *crypto.Suite) *Ratchet {
	rt := &Ratchet{suite: s, next: r.Uint64()}
	sec := r.Opaque(s.HashSize())
	if r.Err() != nil {
		return nil
	}
	if rt.next > generationLimit || (rt.next < generationLimit) != (len(sec) == s.HashSize()) || (len(sec) != 0 && len(sec) != s.HashSize()) {
		r.Fail(ErrEpochState)
		return nil
	}
	if len(sec) != 0 {
		rt.secret = crypto.Secret(sec).Clone()
	}
	var last int64 = -1
	r.Elements(maxEpochStateVector, func(e *mlsenc.Reader) {
		g := e.Uint32()
		key := e.Opaque(s.KeySize())
		nonce := e.Opaque(s.NonceSize())
		if e.Err() != nil {
			return
		}
		if int64(g) <= last || uint64(g) >= rt.next || uint64(g)+MaxRetainedKeys < rt.next ||
			len(key) != s.KeySize() || len(nonce) != s.NonceSize() {
			e.Fail(ErrEpochState)
			return
		}
		last = int64(g)
		if rt.skipped == nil {
			rt.skipped = map[uint32]KeyNonce{}
		}
		rt.skipped[g] = KeyNonce{Generation: g, Key: crypto.Secret(key).Clone(), Nonce: crypto.Secret(nonce).Clone()}
	})
	if r.Err() != nil {
		rt.Destroy()
		return nil
	}
	return rt
}
