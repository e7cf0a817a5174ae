package keying

import (
	"bytes"
	"errors"
	"math/bits"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// MaxTreeLen bounds the bytes of an encoded ratchet tree.
const MaxTreeLen = mlsenc.MaxVarint

// Node types (RFC 9420 §7.8).
const (
	nodeTypeLeaf   uint8 = 1
	nodeTypeParent uint8 = 2
)

// Errors of ratchet tree decoding, validation and editing.
var (
	ErrTree        = errors.New("keying: malformed ratchet tree")
	ErrTreeFull    = errors.New("keying: ratchet tree has no room for another leaf")
	ErrBlankLeaf   = errors.New("keying: leaf is blank")
	ErrNoLeaf      = errors.New("keying: leaf index outside the tree")
	ErrParentHash  = errors.New("keying: parent hash does not verify")
	ErrUnmerged    = errors.New("keying: unmerged leaf list is inconsistent")
	ErrDuplicateID = errors.New("keying: two leaves share a signature or encryption key")
)

// Tree is the public ratchet tree of RFC 9420 (§7): a complete binary tree
// with a power-of-two number of leaves in the array representation, each
// node blank or holding a LeafNode (even indices) or a ParentNode (odd).
//
// Nodes are kept in their encoded form: that is what the tree hash hashes,
// it is three to five times smaller than the decoded structures (a tree of
// 100,000 members fits in tens of megabytes), and the only field read on a
// hot path, the encryption key, is the first one of either node type.
// The tree hash of every node is cached and recomputed only for the nodes
// an edit touches and their ancestors.
//
// A Tree is not safe for concurrent use.
type Tree struct {
	suite  *crypto.Suite
	leaves uint32   // a power of two
	nodes  [][]byte // encoded LeafNode or ParentNode; nil is blank
	hashes []byte   // tree hash of node x at [x*nh:(x+1)*nh]
	hashOK []bool

	undo *treeUndo // non-nil while an edit may still be rolled back
}

// treeUndo records an edit in progress: the tree's arrays as they were
// (a resize reslices or reallocates them, never changes their old
// elements in place but through setNode, and a subtree's hash does not
// depend on the tree's size) and the prior content of every node set.
type treeUndo struct {
	leaves  uint32
	nodes   [][]byte
	hashes  []byte
	hashOK  []bool
	changed []nodeChange
}

type nodeChange struct {
	x   uint32
	enc []byte
}

// begin starts an edit that rollback can undo.
func (t *Tree) begin() {
	t.undo = &treeUndo{leaves: t.leaves, nodes: t.nodes, hashes: t.hashes, hashOK: t.hashOK}
}

// commitEdit ends an edit, keeping its changes.
func (t *Tree) commitEdit() { t.undo = nil }

// rollback undoes the edit in progress. Cached hashes of what it touched are
// recomputed on demand.
func (t *Tree) rollback() {
	u := t.undo
	t.undo = nil
	if u == nil {
		return
	}
	t.leaves, t.nodes, t.hashes, t.hashOK = u.leaves, u.nodes, u.hashes, u.hashOK
	for k := len(u.changed) - 1; k >= 0; k-- {
		if c := u.changed[k]; c.x < uint32(len(t.nodes)) {
			t.nodes[c.x] = c.enc
			t.invalidate(c.x)
		}
	}
	t.hashOK[root(t.leaves)] = false
}

// NewTree returns a tree of one blank leaf.
func NewTree(s *crypto.Suite) *Tree {
	t := &Tree{suite: s}
	t.resize(1)
	return t
}

// Suite is the tree's cipher suite.
func (t *Tree) Suite() *crypto.Suite { return t.suite }

// LeafCount is the number of leaf slots (a power of two), blank or not.
func (t *Tree) LeafCount() uint32 { return t.leaves }

// resize changes the leaf count to n (a power of two), keeping every node
// whose index stays in the tree and the cached hash of every subtree.
func (t *Tree) resize(n uint32) {
	w := int(nodeWidth(n))
	nh := t.suite.HashSize()
	if w <= len(t.nodes) {
		t.nodes = t.nodes[:w:w]
		t.hashes = t.hashes[: w*nh : w*nh]
		t.hashOK = t.hashOK[:w:w]
	} else {
		t.nodes = append(t.nodes, make([][]byte, w-len(t.nodes))...)
		t.hashes = append(t.hashes, make([]byte, w*nh-len(t.hashes))...)
		t.hashOK = append(t.hashOK, make([]bool, w-len(t.hashOK))...)
	}
	t.leaves = n
	// A new root's hash (and those of the new right half) were never
	// computed; the subtrees that stayed keep theirs.
	t.hashOK[root(n)] = false
}

// Clone returns an independent copy of the tree. Encoded nodes are shared:
// the tree never modifies one in place.
func (t *Tree) Clone() *Tree {
	return &Tree{
		suite:  t.suite,
		leaves: t.leaves,
		nodes:  append([][]byte(nil), t.nodes...),
		hashes: bytes.Clone(t.hashes),
		hashOK: append([]bool(nil), t.hashOK...),
	}
}

// invalidate forgets the cached hashes of x and its ancestors.
func (t *Tree) invalidate(x uint32) {
	r := root(t.leaves)
	for {
		t.hashOK[x] = false
		if x == r {
			return
		}
		x = parent(x)
	}
}

func (t *Tree) blank(x uint32) bool { return t.nodes[x] == nil }

// setNode stores an encoded node (nil to blank it).
func (t *Tree) setNode(x uint32, enc []byte) {
	if t.undo != nil {
		t.undo.changed = append(t.undo.changed, nodeChange{x, t.nodes[x]})
	}
	t.nodes[x] = enc
	t.invalidate(x)
}

// Leaf returns a copy of leaf i's node, or nil if it is blank or outside
// the tree.
func (t *Tree) Leaf(i uint32) *LeafNode {
	if i >= t.leaves || t.nodes[leafNode(i)] == nil {
		return nil
	}
	// Decoding aliases its input, and every slice it hands out is capped
	// at its field's length: decoded from a copy of its own, the leaf
	// shares nothing with the tree, and appending to a field cannot
	// overwrite the next one.
	l, err := ParseLeafNode(bytes.Clone(t.nodes[leafNode(i)]))
	if err != nil {
		panic("keying: tree holds an undecodable leaf")
	}
	return l
}

// leafView returns leaf i's node decoded in place, or nil if it is blank
// or outside the tree: it aliases the tree's encoding, for reading only,
// and costs no copy.
func (t *Tree) leafView(i uint32) *LeafNode {
	if i >= t.leaves || t.nodes[leafNode(i)] == nil {
		return nil
	}
	l, err := ParseLeafNode(t.nodes[leafNode(i)])
	if err != nil {
		panic("keying: tree holds an undecodable leaf")
	}
	return l
}

// SameLeaf reports whether leaf i holds the same node, byte for byte, in t
// and in o: both non-blank with equal encodings. A commit changes few
// leaves; a caller that decoded the others from the tree before it can
// keep what it decoded.
func (t *Tree) SameLeaf(o *Tree, i uint32) bool {
	if i >= t.leaves || i >= o.leaves {
		return false
	}
	a, b := t.nodes[leafNode(i)], o.nodes[leafNode(i)]
	return a != nil && b != nil && bytes.Equal(a, b)
}

// parentNode returns parent x's node, or nil if blank. It aliases the
// tree's encoding: callers must not modify it.
func (t *Tree) parentNode(x uint32) *ParentNode {
	if t.nodes[x] == nil {
		return nil
	}
	p := DecodeParentNode(mlsenc.NewReader(t.nodes[x]))
	if p == nil {
		panic("keying: tree holds an undecodable parent")
	}
	return p
}

// ParentNode returns a copy of parent x's node, or nil if blank.
func (t *Tree) ParentNode(x uint32) *ParentNode {
	if x >= uint32(len(t.nodes)) || isLeaf(x) {
		return nil
	}
	p := t.parentNode(x)
	if p == nil {
		return nil
	}
	return &ParentNode{
		EncryptionKey:  bytes.Clone(p.EncryptionKey),
		ParentHash:     bytes.Clone(p.ParentHash),
		UnmergedLeaves: append([]uint32{}, p.UnmergedLeaves...),
	}
}

// SetLeaf stores leaf i's node (nil blanks it). The tree keeps its own
// encoding of l.
func (t *Tree) SetLeaf(i uint32, l *LeafNode) error {
	if i >= t.leaves {
		return ErrNoLeaf
	}
	if l == nil {
		t.setNode(leafNode(i), nil)
		return nil
	}
	enc, err := l.Bytes()
	if err != nil {
		return err
	}
	t.setNode(leafNode(i), enc)
	return nil
}

// setParent stores parent x's node (nil blanks it).
func (t *Tree) setParent(x uint32, p *ParentNode) error {
	if p == nil {
		t.setNode(x, nil)
		return nil
	}
	enc, err := p.Bytes()
	if err != nil {
		return err
	}
	t.setNode(x, enc)
	return nil
}

// encryptionKey returns the HPKE public key of non-blank node x: the first
// field of both node types.
func (t *Tree) encryptionKey(x uint32) []byte {
	r := mlsenc.NewReader(t.nodes[x])
	return r.Opaque(MaxPublicKeyLen)
}

// Occupied reports whether leaf i holds a member.
func (t *Tree) Occupied(i uint32) bool { return i < t.leaves && t.nodes[leafNode(i)] != nil }

// Members returns the indices of the non-blank leaves, ascending.
func (t *Tree) Members() []uint32 {
	var m []uint32
	for i := uint32(0); i < t.leaves; i++ {
		if t.nodes[leafNode(i)] != nil {
			m = append(m, i)
		}
	}
	return m
}

// unmerged returns parent x's unmerged leaves (nil if blank).
func (t *Tree) unmerged(x uint32) []uint32 {
	if t.nodes[x] == nil {
		return nil
	}
	return t.parentNode(x).UnmergedLeaves
}

// Resolution is RFC 9420 §4.1.1: the non-blank nodes that together cover
// every non-blank leaf under x, so that encrypting to each of them reaches
// exactly the members of x's subtree.
func (t *Tree) Resolution(x uint32) []uint32 {
	return t.appendResolution(nil, x)
}

func (t *Tree) appendResolution(dst []uint32, x uint32) []uint32 {
	if t.nodes[x] != nil {
		dst = append(dst, x)
		if !isLeaf(x) {
			for _, l := range t.unmerged(x) {
				dst = append(dst, leafNode(l))
			}
		}
		return dst
	}
	if isLeaf(x) {
		return dst
	}
	dst = t.appendResolution(dst, left(x))
	return t.appendResolution(dst, right(x))
}

// resolutionSize is len(Resolution(x)) without building the list.
func (t *Tree) resolutionSize(x uint32) int {
	if t.nodes[x] != nil {
		if isLeaf(x) {
			return 1
		}
		return 1 + len(t.unmerged(x))
	}
	if isLeaf(x) {
		return 0
	}
	return t.resolutionSize(left(x)) + t.resolutionSize(right(x))
}

// filteredDirectPath is RFC 9420 §4.1.2: the direct path of leaf i without
// the nodes whose copath child has an empty resolution, each with that
// copath child.
func (t *Tree) filteredDirectPath(i uint32) (path, cop []uint32) {
	x := leafNode(i)
	r := root(t.leaves)
	for x != r {
		s := sibling(x)
		x = parent(x)
		if t.resolutionSize(s) > 0 {
			path = append(path, x)
			cop = append(cop, s)
		}
	}
	return path, cop
}

// TreeHash is the tree hash of the whole tree (RFC 9420 §7.8).
func (t *Tree) TreeHash() []byte {
	return bytes.Clone(t.treeHash(root(t.leaves)))
}

// treeHash returns node x's subtree hash from the cache, computing what is
// stale. The result aliases the cache.
func (t *Tree) treeHash(x uint32) []byte {
	nh := t.suite.HashSize()
	h := t.hashes[int(x)*nh : int(x+1)*nh]
	if t.hashOK[x] {
		return h
	}
	var lh, rh []byte
	if !isLeaf(x) {
		lh, rh = t.treeHash(left(x)), t.treeHash(right(x))
	}
	t.hashNode(h[:0], x, t.nodes[x], lh, rh)
	t.hashOK[x] = true
	return h
}

// hashNode appends to dst the hash of TreeHashInput for node x with encoded
// content enc (nil: blank) and, for a parent, its children's hashes:
//
//	struct { uint32 leaf_index; optional<LeafNode> leaf_node; } LeafNodeHashInput;
//	struct { optional<ParentNode> parent_node; opaque left_hash<V>; opaque right_hash<V>; } ParentNodeHashInput;
func (t *Tree) hashNode(dst []byte, x uint32, enc, lh, rh []byte) []byte {
	var small [256]byte
	w := mlsenc.NewWriter(small[:0])
	if isLeaf(x) {
		w.Uint8(nodeTypeLeaf)
		w.Uint32(nodeLeaf(x))
	} else {
		w.Uint8(nodeTypeParent)
	}
	if enc == nil {
		w.Uint8(0)
	} else {
		w.Uint8(1)
		w.Raw(enc)
	}
	if !isLeaf(x) {
		w.Opaque(lh)
		w.Opaque(rh)
	}
	b, err := w.Bytes()
	if err != nil {
		panic("keying: tree hash input too long")
	}
	hh := t.suite.NewHash()
	hh.Write(b)
	return hh.Sum(dst)
}

// originalTreeHash is the tree hash of x's subtree with the leaves in
// removed taken out: blanked, and dropped from every unmerged list (RFC
// 9420 §7.9.2). Subtrees that hold none of them use the cache.
func (t *Tree) originalTreeHash(x uint32, removed []uint32) []byte {
	touched := false
	for _, l := range removed {
		if isInSubtree(x, leafNode(l)) {
			touched = true
			break
		}
	}
	if !touched {
		return bytes.Clone(t.treeHash(x))
	}
	if isLeaf(x) {
		return t.hashNode(nil, x, nil, nil, nil)
	}
	enc := t.nodes[x]
	if enc != nil {
		p := t.parentNode(x)
		keep := make([]uint32, 0, len(p.UnmergedLeaves))
		for _, l := range p.UnmergedLeaves {
			if !containsUint32(removed, l) {
				keep = append(keep, l)
			}
		}
		q := &ParentNode{EncryptionKey: p.EncryptionKey, ParentHash: p.ParentHash, UnmergedLeaves: keep}
		var err error
		if enc, err = q.Bytes(); err != nil {
			panic("keying: parent node too long")
		}
	}
	return t.hashNode(nil, x, enc, t.originalTreeHash(left(x), removed), t.originalTreeHash(right(x), removed))
}

func containsUint32(l []uint32, v uint32) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// parentHash is RFC 9420 §7.9: the hash of ParentHashInput for parent p
// with its child's sibling's (original) tree hash.
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    opaque parent_hash<V>;
//	    opaque original_sibling_tree_hash<V>;
//	} ParentHashInput;
func (t *Tree) parentHash(p *ParentNode, siblingHash []byte) []byte {
	w := mlsenc.NewWriter(make([]byte, 0, 16+len(p.EncryptionKey)+len(p.ParentHash)+len(siblingHash)))
	w.Opaque(p.EncryptionKey)
	w.Opaque(p.ParentHash)
	w.Opaque(siblingHash)
	b, err := w.Bytes()
	if err != nil {
		panic("keying: parent hash input too long")
	}
	return t.suite.Hash(b)
}

// Encode appends the tree in RFC 9420's ratchet_tree form (§12.4.3.3):
// optional<Node> ratchet_tree<V>, trailing blank nodes left out.
func (t *Tree) Encode(w *mlsenc.Writer) {
	last := -1
	for x := len(t.nodes) - 1; x >= 0; x-- {
		if t.nodes[x] != nil {
			last = x
			break
		}
	}
	w.Vector(func(w *mlsenc.Writer) {
		for x := 0; x <= last; x++ {
			if t.nodes[x] == nil {
				w.Uint8(0)
				continue
			}
			w.Uint8(1)
			if isLeaf(uint32(x)) {
				w.Uint8(nodeTypeLeaf)
			} else {
				w.Uint8(nodeTypeParent)
			}
			w.Raw(t.nodes[x])
		}
	})
}

// Bytes is the tree's ratchet_tree encoding.
func (t *Tree) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(nil)
	t.Encode(w)
	return w.Bytes()
}

// DecodeTree reads a ratchet_tree from r, strictly: every node of the type
// its position demands, the last node non-blank, at most maxLeaves leaves,
// and each node re-encoding to exactly its input bytes. It checks syntax
// only; Validate checks hashes, signatures and unmerged lists.
func DecodeTree(s *crypto.Suite, r *mlsenc.Reader) *Tree {
	var nodes [][]byte
	r.Elements(MaxTreeLen, func(e *mlsenc.Reader) {
		if len(nodes) >= int(nodeWidth(maxLeaves)) {
			e.Fail(ErrTree)
			return
		}
		x := uint32(len(nodes))
		if !e.Bool() {
			nodes = append(nodes, nil)
			return
		}
		var enc []byte
		var err error
		switch typ := e.Uint8(); {
		case typ == nodeTypeLeaf && isLeaf(x):
			if l := DecodeLeafNode(e); l != nil {
				enc, err = l.Bytes()
			}
		case typ == nodeTypeParent && !isLeaf(x):
			if p := DecodeParentNode(e); p != nil {
				enc, err = p.Bytes()
			}
		default:
			e.Fail(ErrTree)
			return
		}
		if err != nil {
			e.Fail(ErrTree)
		}
		// Decoding is canonical (minimal varints, fixed-width fields), so
		// the re-encoding is exactly the input's bytes, in storage of the
		// tree's own.
		nodes = append(nodes, enc)
	})
	if r.Err() != nil {
		return nil
	}
	if len(nodes) == 0 || nodes[len(nodes)-1] == nil {
		r.Fail(ErrTree)
		return nil
	}
	// len(nodes) is odd: the last node is non-blank and so, by the type
	// check, a leaf at an even index.
	n := uint32(len(nodes)/2 + 1)
	leaves := uint32(1) << bits.Len32(n-1)
	t := &Tree{suite: s}
	t.resize(leaves)
	copy(t.nodes, nodes)
	for x := range t.hashOK {
		t.hashOK[x] = false
	}
	// Unmerged leaves must lie under their parent, so that no later walk
	// of a resolution can index outside the tree; Validate checks the rest.
	for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
		for _, l := range t.unmerged(x) {
			if l >= leaves || !isInSubtree(x, leafNode(l)) {
				r.Fail(ErrTree)
				return nil
			}
		}
	}
	return t
}

// ParseTree decodes a whole ratchet_tree, refusing trailing bytes.
func ParseTree(s *crypto.Suite, b []byte) (*Tree, error) {
	r := mlsenc.NewReader(b)
	t := DecodeTree(s, r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return t, nil
}
