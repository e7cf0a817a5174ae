package keying

import (
	"bytes"
	"errors"
	"io"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Bounds on an update path, checked before anything is allocated.
const (
	MaxPathNodes    = 32      // one per tree level: 2^31 leaves
	MaxUpdatePath   = 1 << 28 // bytes of the nodes vector
	MaxKEMOutputLen = 2048    // X-Wing's encapsulation is 1120 bytes
	MaxCiphertext   = 1024    // an encrypted path secret: a hash size and a tag
)

// Errors of update paths.
var (
	ErrUpdatePath  = errors.New("keying: malformed update path")
	ErrPathLength  = errors.New("keying: update path does not match the sender's filtered direct path")
	ErrPathKey     = errors.New("keying: update path public key does not match the decrypted path secret")
	ErrNoPathKey   = errors.New("keying: no private key to decrypt the update path")
	ErrOwnPath     = errors.New("keying: update path comes from this member")
	ErrPathSecret  = errors.New("keying: decrypted path secret has the wrong size")
	ErrPrivateTree = errors.New("keying: private key does not match the tree")
)

// HPKECiphertext is RFC 9420's HPKECiphertext (§7.6).
type HPKECiphertext struct {
	KEMOutput, Ciphertext []byte
}

// UpdatePathNode is one node of an update path: the new public key of a
// parent on the sender's filtered direct path and its path secret encrypted
// to every node of the resolution of that parent's copath child.
type UpdatePathNode struct {
	EncryptionKey []byte
	Secrets       []HPKECiphertext
}

// UpdatePath is RFC 9420's UpdatePath (§7.6):
//
//	struct { opaque kem_output<V>; opaque ciphertext<V>; } HPKECiphertext;
//	struct { HPKEPublicKey encryption_key; HPKECiphertext encrypted_path_secret<V>; } UpdatePathNode;
//	struct { LeafNode leaf_node; UpdatePathNode nodes<V>; } UpdatePath;
type UpdatePath struct {
	Leaf  *LeafNode
	Nodes []UpdatePathNode
}

// Encode appends the update path's encoding to w.
func (u *UpdatePath) Encode(w *mlsenc.Writer) {
	u.Leaf.Encode(w)
	w.Vector(func(w *mlsenc.Writer) {
		for _, n := range u.Nodes {
			w.Opaque(n.EncryptionKey)
			w.Vector(func(w *mlsenc.Writer) {
				for _, c := range n.Secrets {
					w.Opaque(c.KEMOutput)
					w.Opaque(c.Ciphertext)
				}
			})
		}
	})
}

// sizeHint bounds the length of the update path's encoding, so that
// encoding it allocates once: each length prefix takes at most 4 bytes.
func (u *UpdatePath) sizeHint() int {
	n := 4
	if u.Leaf != nil {
		n += u.Leaf.sizeHint()
	}
	for _, nd := range u.Nodes {
		n += 4 + len(nd.EncryptionKey) + 4
		for _, c := range nd.Secrets {
			n += 4 + len(c.KEMOutput) + 4 + len(c.Ciphertext)
		}
	}
	return n
}

// Bytes is the update path's encoding.
func (u *UpdatePath) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, u.sizeHint()))
	u.Encode(w)
	return w.Bytes()
}

// DecodeUpdatePath reads an update path from r with bounded lengths and
// counts. Errors stick in r; slices alias r's input.
func DecodeUpdatePath(r *mlsenc.Reader) *UpdatePath {
	u := &UpdatePath{Leaf: DecodeLeafNode(r), Nodes: []UpdatePathNode{}}
	r.Elements(MaxUpdatePath, func(e *mlsenc.Reader) {
		if len(u.Nodes) == MaxPathNodes {
			e.Fail(ErrUpdatePath)
			return
		}
		n := UpdatePathNode{EncryptionKey: e.Opaque(MaxPublicKeyLen), Secrets: []HPKECiphertext{}}
		e.Elements(MaxUpdatePath, func(c *mlsenc.Reader) {
			n.Secrets = append(n.Secrets, HPKECiphertext{
				KEMOutput:  c.Opaque(MaxKEMOutputLen),
				Ciphertext: c.Opaque(MaxCiphertext),
			})
		})
		u.Nodes = append(u.Nodes, n)
	})
	if r.Err() != nil {
		return nil
	}
	return u
}

// ParseUpdatePath decodes a whole update path, refusing trailing bytes.
func ParseUpdatePath(b []byte) (*UpdatePath, error) {
	r := mlsenc.NewReader(b)
	u := DecodeUpdatePath(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return u, nil
}

// PrivateKeys is a member's private TreeKEM state: its leaf index and the
// HPKE private keys it holds, by node index (its leaf and parents on its
// direct path). Keys never print.
type PrivateKeys struct {
	Leaf uint32
	keys map[uint32]*crypto.KEMPrivateKey
}

// NewPrivateKeys returns the state of the member at leaf with its leaf's
// private key.
func NewPrivateKeys(leaf uint32, leafKey *crypto.KEMPrivateKey) *PrivateKeys {
	return &PrivateKeys{Leaf: leaf, keys: map[uint32]*crypto.KEMPrivateKey{leafNode(leaf): leafKey}}
}

// Key returns the private key held for node x, if any.
func (p *PrivateKeys) Key(x uint32) *crypto.KEMPrivateKey { return p.keys[x] }

// Nodes returns how many private keys are held.
func (p *PrivateKeys) Nodes() int { return len(p.keys) }

// set installs k for node x, destroying the key it replaces.
func (p *PrivateKeys) set(x uint32, k *crypto.KEMPrivateKey) {
	if old := p.keys[x]; old != nil && old != k {
		old.Destroy()
	}
	p.keys[x] = k
}

// drop destroys and forgets the key for node x.
func (p *PrivateKeys) drop(x uint32) {
	if k := p.keys[x]; k != nil {
		k.Destroy()
		delete(p.keys, x)
	}
}

// Destroy drops every key.
func (p *PrivateKeys) Destroy() {
	for x := range p.keys {
		p.drop(x)
	}
}

// Clone returns an independent copy of the state: destroying keys in one
// leaves the other's intact.
func (p *PrivateKeys) Clone(s *crypto.Suite) (*PrivateKeys, error) {
	c := &PrivateKeys{Leaf: p.Leaf, keys: make(map[uint32]*crypto.KEMPrivateKey, len(p.keys))}
	for x, k := range p.keys {
		b, err := k.Bytes()
		if err != nil {
			c.Destroy()
			return nil, err
		}
		// The parsed key may keep the slice it is parsed from: hand it a
		// copy of its own before zeroing ours.
		ck, err := s.ParseKEMPrivateKey(b)
		b.Zero()
		if err != nil {
			c.Destroy()
			return nil, err
		}
		c.keys[x] = ck
	}
	return c, nil
}

// SetPathSecret derives the key pair of parent x from a path secret and
// installs its private key after checking it matches the tree's public key.
func (p *PrivateKeys) SetPathSecret(t *Tree, x uint32, pathSecret crypto.Secret) error {
	k, err := nodeKey(t.suite, pathSecret)
	if err != nil {
		return err
	}
	if x >= uint32(len(t.nodes)) || t.blank(x) || !bytes.Equal(k.PublicKey().Bytes(), t.encryptionKey(x)) {
		k.Destroy()
		return ErrPrivateTree
	}
	p.set(x, k)
	return nil
}

// Check verifies that every private key held matches the public key of a
// non-blank node of t.
func (p *PrivateKeys) Check(t *Tree) error {
	for x, k := range p.keys {
		if x >= uint32(len(t.nodes)) || t.blank(x) || !bytes.Equal(k.PublicKey().Bytes(), t.encryptionKey(x)) {
			return ErrPrivateTree
		}
	}
	return nil
}

// nodeKey derives a parent's key pair from its path secret (RFC 9420 §7.4).
func nodeKey(s *crypto.Suite, pathSecret crypto.Secret) (*crypto.KEMPrivateKey, error) {
	nodeSecret := s.DeriveSecret(pathSecret, "node")
	defer nodeSecret.Zero()
	return s.DeriveKeyPair(nodeSecret)
}

// PathResult is what creating or processing an update path yields.
type PathResult struct {
	// CommitSecret feeds the key schedule.
	CommitSecret crypto.Secret
	// PathSecret is the path secret the member learnt first: for a
	// receiver, the one it decrypted (at Node); for the sender, the one of
	// its first filtered direct path node (nil if the path is empty).
	PathSecret crypto.Secret
	Node       uint32
	// Seals counts the HPKE encryptions (sender) or decryptions (receiver).
	Seals int
}

// Destroy zeros the secrets.
func (r *PathResult) Destroy() {
	r.CommitSecret.Destroy()
	r.PathSecret.Destroy()
}

// pathSecretFor returns the path secret a sender gives a member at leaf j
// that was left out of the encryption (a joiner): the one of the lowest
// node of the sender's filtered direct path above j. It is derived again
// from the sender's first path secret.
func (t *Tree) pathSecretFor(sender, j uint32, first crypto.Secret) (crypto.Secret, uint32, error) {
	path, _ := t.filteredDirectPath(sender)
	ps := first.Clone()
	for _, x := range path {
		if isInSubtree(x, leafNode(j)) {
			return ps, x, nil
		}
		next := t.suite.DeriveSecret(ps, "path")
		ps.Zero()
		ps = next
	}
	ps.Zero()
	return nil, 0, ErrNoLeaf
}

// CreatePath is RFC 9420 §7.5 at the sender: it replaces the direct path of
// priv.Leaf with fresh keys and returns the UpdatePath that carries them.
// leaf is the sender's new leaf node template: its encryption key, source
// and parent hash are set here and it is signed with sig. gc is the
// provisional group context; its tree hash is set to the tree's new one.
// Leaves in exclude (joiners that learn their path secret from a welcome)
// are left out of the encryption. On success t and priv hold the new path.
func (t *Tree) CreatePath(priv *PrivateKeys, leaf *LeafNode, sig *crypto.SigningKey, gc *GroupContext, exclude []uint32, rand io.Reader) (*UpdatePath, *PathResult, error) {
	up, res, keys, err := t.createPath(priv.Leaf, leaf, sig, gc, exclude, nil, rand)
	if err != nil {
		return nil, nil, err
	}
	keys.install(priv, t.leaves)
	return up, res, nil
}

// pathKeys are the private keys a path gives a member, held apart until
// the whole commit has succeeded: the sender's direct path (whose old keys
// the member forgets) and the new keys by node.
type pathKeys struct {
	sender uint32
	keys   map[uint32]*crypto.KEMPrivateKey
}

// install forgets priv's keys on the sender's direct path in a tree of
// leaves leaves, then holds the new keys.
func (k *pathKeys) install(priv *PrivateKeys, leaves uint32) {
	for _, x := range directPath(leafNode(k.sender), leaves) {
		priv.drop(x)
	}
	for x, key := range k.keys {
		priv.set(x, key)
	}
}

// destroy drops keys that will not be installed.
func (k *pathKeys) destroy() {
	if k == nil {
		return
	}
	for _, key := range k.keys {
		key.Destroy()
	}
}

// createPath does CreatePath's work inside the caller's edit, returning the
// new private keys instead of installing them. The leaf key pair and the
// path secrets with their node key pairs come from draw if it is not nil
// (drawn ahead, emptied here whatever the outcome), else from rand, read
// as DrawPath reads it.
func (t *Tree) createPath(i uint32, leaf *LeafNode, sig *crypto.SigningKey, gc *GroupContext, exclude []uint32, draw *PathDraw, rand io.Reader) (*UpdatePath, *PathResult, *pathKeys, error) {
	s := t.suite
	if !t.Occupied(i) {
		draw.Destroy()
		return nil, nil, nil, ErrBlankLeaf
	}
	path, cop := t.filteredDirectPath(i)

	if draw == nil {
		var err error
		if draw, err = newPathDraw(s, 0, rand); err != nil {
			return nil, nil, nil, err
		}
	}
	// The commit secret is path_secret[n+1] (RFC 9420 §7.4).
	leafKey, secrets, keys, commitSecret, err := draw.take(s, len(path))
	if err != nil {
		return nil, nil, nil, err
	}
	res := &PathResult{CommitSecret: commitSecret}
	if len(path) > 0 {
		res.PathSecret, res.Node = secrets[0].Clone(), path[0]
	}
	fail := func(err error) (*UpdatePath, *PathResult, *pathKeys, error) {
		for k := range secrets {
			secrets[k].Zero()
			keys[k].Destroy()
		}
		leafKey.Destroy()
		res.Destroy()
		return nil, nil, nil, err
	}

	nl := leaf.clone()
	nl.EncryptionKey = bytes.Clone(leafKey.PublicKey().Bytes())
	nl.Source = SourceCommit
	nl.Lifetime = Lifetime{}
	pubs := make([][]byte, len(path))
	for k := range path {
		pubs[k] = keys[k].PublicKey().Bytes()
	}

	ph, err := t.mergePath(i, path, cop, pubs)
	if err != nil {
		return fail(err)
	}
	nl.ParentHash = ph
	if err := nl.Sign(s, sig, gc.GroupID, i); err != nil {
		return fail(err)
	}
	if err := t.SetLeaf(i, nl); err != nil {
		return fail(err)
	}
	gc.TreeHash = t.TreeHash()
	ctx, err := gc.Bytes()
	if err != nil {
		return fail(err)
	}

	// Each path secret is encrypted to every node of its copath node's
	// resolution; the encryptions are independent, so they run side by
	// side, each into its own slot.
	type seal struct {
		out *HPKECiphertext
		to  []byte // the recipient's public key
		k   int    // the path secret
	}
	up := &UpdatePath{Leaf: nl, Nodes: make([]UpdatePathNode, len(path))}
	var seals []seal
	for k := range path {
		var to []uint32
		for _, x := range t.Resolution(cop[k]) {
			if !isLeaf(x) || !containsUint32(exclude, nodeLeaf(x)) {
				to = append(to, x)
			}
		}
		up.Nodes[k] = UpdatePathNode{EncryptionKey: pubs[k], Secrets: make([]HPKECiphertext, len(to))}
		for j, x := range to {
			seals = append(seals, seal{out: &up.Nodes[k].Secrets[j], to: t.encryptionKey(x), k: k})
		}
	}
	if err := forEach(len(seals), func(j int) error {
		pub, err := s.ParseKEMPublicKey(seals[j].to)
		if err != nil {
			return err
		}
		kemOut, ct, err := s.EncryptWithLabel(pub, "UpdatePathNode", ctx, secrets[seals[j].k])
		seals[j].out.KEMOutput, seals[j].out.Ciphertext = kemOut, ct
		return err
	}); err != nil {
		return fail(err)
	}
	res.Seals += len(seals)

	pk := &pathKeys{sender: i, keys: map[uint32]*crypto.KEMPrivateKey{leafNode(i): leafKey}}
	for k, x := range path {
		pk.keys[x] = keys[k]
		secrets[k].Zero()
	}
	return up, res, pk, nil
}

// mergePath blanks the direct path of leaf i, sets the filtered direct
// path's parents to the given public keys with empty unmerged lists and
// chained parent hashes (RFC 9420 §7.9), and returns the parent hash the
// leaf must carry. The caller has begun an edit.
func (t *Tree) mergePath(i uint32, path, cop []uint32, pubs [][]byte) ([]byte, error) {
	for _, x := range directPath(leafNode(i), t.leaves) {
		t.setNode(x, nil)
	}
	ph := []byte{}
	for k := len(path) - 1; k >= 0; k-- {
		p := &ParentNode{EncryptionKey: pubs[k], ParentHash: ph, UnmergedLeaves: []uint32{}}
		if err := t.setParent(path[k], p); err != nil {
			return nil, err
		}
		ph = t.parentHash(p, t.treeHash(cop[k]))
	}
	return ph, nil
}

// ApplyPath merges a received update path from leaf sender into the public
// tree without decrypting anything (RFC 9420 §7.5, steps a member that is
// not affected would take), after checking its shape, the leaf's signature
// and parent hash. gc is the provisional group context; its tree hash is
// set to the new one.
func (t *Tree) ApplyPath(sender uint32, up *UpdatePath, gc *GroupContext) error {
	t.begin()
	if _, _, err := t.applyPath(sender, up, gc); err != nil {
		t.rollback()
		return err
	}
	t.commitEdit()
	return nil
}

// applyPath does ApplyPath's work inside the caller's edit and returns the
// filtered direct path and copath it used (from before the merge).
func (t *Tree) applyPath(sender uint32, up *UpdatePath, gc *GroupContext) (path, cop []uint32, err error) {
	s := t.suite
	if !t.Occupied(sender) {
		return nil, nil, ErrBlankLeaf
	}
	path, cop = t.filteredDirectPath(sender)
	if up == nil || up.Leaf == nil || len(up.Nodes) != len(path) {
		return nil, nil, ErrPathLength
	}
	if up.Leaf.Source != SourceCommit {
		return nil, nil, ErrLeafSource
	}
	if err := up.Leaf.Verify(s, gc.GroupID, sender); err != nil {
		return nil, nil, err
	}
	if _, err := s.ParseKEMPublicKey(up.Leaf.EncryptionKey); err != nil {
		return nil, nil, err
	}
	pubs := make([][]byte, len(path))
	for k := range path {
		if _, err := s.ParseKEMPublicKey(up.Nodes[k].EncryptionKey); err != nil {
			return nil, nil, err
		}
		pubs[k] = bytes.Clone(up.Nodes[k].EncryptionKey)
	}
	ph, err := t.mergePath(sender, path, cop, pubs)
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(ph, up.Leaf.ParentHash) {
		return nil, nil, ErrParentHash
	}
	if err := t.SetLeaf(sender, up.Leaf); err != nil {
		return nil, nil, err
	}
	gc.TreeHash = t.TreeHash()
	return path, cop, nil
}

// ProcessPath is RFC 9420 §7.5 at a receiver: it merges the update path from
// leaf sender into the tree, decrypts the one path secret meant for priv's
// member with the private key it holds in the copath child's resolution,
// derives the path secrets above it, checks them against the path's public
// keys, and installs the new private keys. Leaves in exclude were left out
// of the encryption (joiners). On error t and priv are unchanged.
func (t *Tree) ProcessPath(priv *PrivateKeys, sender uint32, up *UpdatePath, gc *GroupContext, exclude []uint32) (*PathResult, error) {
	t.begin()
	res, keys, err := t.processPath(priv, sender, up, gc, exclude)
	if err != nil {
		t.rollback()
		return nil, err
	}
	t.commitEdit()
	keys.install(priv, t.leaves)
	return res, nil
}

// processPath does ProcessPath's work inside the caller's edit, returning
// the new private keys instead of installing them.
func (t *Tree) processPath(priv *PrivateKeys, sender uint32, up *UpdatePath, gc *GroupContext, exclude []uint32) (*PathResult, *pathKeys, error) {
	if sender == priv.Leaf {
		return nil, nil, ErrOwnPath
	}
	path, cop, err := t.applyPath(sender, up, gc)
	if err != nil {
		return nil, nil, err
	}
	res, keys, err := t.decryptPath(priv, path, cop, up, gc, exclude)
	if err != nil {
		return nil, nil, err
	}
	return res, &pathKeys{sender: sender, keys: keys}, nil
}

func (t *Tree) decryptPath(priv *PrivateKeys, path, cop []uint32, up *UpdatePath, gc *GroupContext, exclude []uint32) (*PathResult, map[uint32]*crypto.KEMPrivateKey, error) {
	s := t.suite
	me := leafNode(priv.Leaf)
	k := -1
	for c, x := range cop {
		if isInSubtree(x, me) {
			k = c
			break
		}
	}
	if k < 0 {
		return nil, nil, ErrNoPathKey
	}
	// The copath child's subtree is untouched by the merge, so its
	// resolution is the one the sender encrypted to.
	var idx = -1
	var key *crypto.KEMPrivateKey
	n := 0
	for _, x := range t.Resolution(cop[k]) {
		if isLeaf(x) && containsUint32(exclude, nodeLeaf(x)) {
			continue
		}
		if key == nil {
			if pk := priv.keys[x]; pk != nil {
				idx, key = n, pk
			}
		}
		n++
	}
	if key == nil {
		return nil, nil, ErrNoPathKey
	}
	if len(up.Nodes[k].Secrets) != n {
		return nil, nil, ErrPathLength
	}
	ctx, err := gc.Bytes()
	if err != nil {
		return nil, nil, err
	}
	ct := up.Nodes[k].Secrets[idx]
	pt, err := s.DecryptWithLabel(key, "UpdatePathNode", ctx, ct.KEMOutput, ct.Ciphertext)
	if err != nil {
		return nil, nil, err
	}
	secret := crypto.Secret(pt)
	if len(secret) != s.HashSize() {
		secret.Zero()
		return nil, nil, ErrPathSecret
	}
	res := &PathResult{PathSecret: secret.Clone(), Node: path[k], Seals: 1}
	keys := map[uint32]*crypto.KEMPrivateKey{}
	for c := k; c < len(path); c++ {
		nk, err := nodeKey(s, secret)
		if err == nil && !bytes.Equal(nk.PublicKey().Bytes(), up.Nodes[c].EncryptionKey) {
			nk.Destroy()
			err = ErrPathKey
		}
		if err != nil {
			secret.Zero()
			res.Destroy()
			for _, k := range keys {
				k.Destroy()
			}
			return nil, nil, err
		}
		keys[path[c]] = nk
		next := s.DeriveSecret(secret, "path")
		secret.Zero()
		secret = next
	}
	res.CommitSecret = secret
	return res, keys, nil
}
