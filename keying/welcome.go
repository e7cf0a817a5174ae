package keying

import (
	"bytes"
	"encoding/binary"
	"errors"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Extension types a welcome's GroupInfo carries.
const (
	// ExtensionRatchetTree is RFC 9420's ratchet_tree extension (§12.4.3.3).
	ExtensionRatchetTree uint16 = 0x0002
	// ExtensionRefreshed carries the epoch each leaf's path was last
	// refreshed (uint64 per leaf slot), so a joiner rotates committers
	// exactly as the members do. Private-use range.
	ExtensionRefreshed uint16 = 0xFC02
)

// Bounds on a welcome.
const (
	MaxGroupInfoLen = mlsenc.MaxVarint
	MaxWelcomeLen   = mlsenc.MaxVarint
)

// Errors of welcomes.
var (
	ErrWelcome          = errors.New("keying: malformed welcome")
	ErrNotForMe         = errors.New("keying: welcome has no secrets for this key package")
	ErrGroupInfo        = errors.New("keying: group info does not verify")
	ErrWelcomeTreeHash  = errors.New("keying: welcome tree does not match the group context")
	ErrWelcomeNoLeaf    = errors.New("keying: welcome tree does not hold the joiner's leaf")
	ErrWelcomePathLevel = errors.New("keying: welcome path secret is for the wrong node")
)

// GroupInfo is RFC 9420's GroupInfo (§12.4.3):
//
//	struct {
//	    GroupContext group_context;
//	    Extension extensions<V>;
//	    MAC confirmation_tag;
//	    uint32 signer;
//	    opaque signature<V>;   // SignWithLabel(., "GroupInfoTBS", GroupInfoTBS)
//	} GroupInfo;
type GroupInfo struct {
	Context         GroupContext
	Extensions      []Extension
	ConfirmationTag []byte
	Signer          uint32
	Signature       []byte
}

func (gi *GroupInfo) encodeTBS(w *mlsenc.Writer) {
	gi.Context.Encode(w)
	encodeExtensions(w, gi.Extensions)
	w.Opaque(gi.ConfirmationTag)
	w.Uint32(gi.Signer)
}

// Bytes is the group info's encoding.
func (gi *GroupInfo) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(nil)
	gi.encodeTBS(w)
	w.Opaque(gi.Signature)
	return w.Bytes()
}

func (gi *GroupInfo) tbs() ([]byte, error) {
	w := mlsenc.NewWriter(nil)
	gi.encodeTBS(w)
	return w.Bytes()
}

// ParseGroupInfo decodes a whole group info strictly.
func ParseGroupInfo(b []byte) (*GroupInfo, error) {
	r := mlsenc.NewReader(b)
	gi := &GroupInfo{Context: DecodeGroupContext(r)}
	gi.Extensions = DecodeExtensions(r)
	gi.ConfirmationTag = r.Opaque(MaxHashLen)
	gi.Signer = r.Uint32()
	gi.Signature = r.Opaque(MaxSignatureLen)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return gi, nil
}

// extension returns the data of extension typ.
func (gi *GroupInfo) extension(typ uint16) ([]byte, bool) {
	for _, e := range gi.Extensions {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// GroupSecrets is RFC 9420's GroupSecrets (§12.4.3), without PSKs (the
// vector is always empty: Conclave uses none):
//
//	struct {
//	    opaque joiner_secret<V>;
//	    optional<PathSecret> path_secret;   // PathSecret: opaque path_secret<V>
//	    PreSharedKeyID psks<V>;
//	} GroupSecrets;
type GroupSecrets struct {
	JoinerSecret crypto.Secret
	PathSecret   crypto.Secret // nil if absent
}

func (gs *GroupSecrets) bytes() (crypto.Secret, error) {
	w := mlsenc.NewWriter(nil)
	w.Opaque(gs.JoinerSecret)
	w.Bool(gs.PathSecret != nil)
	if gs.PathSecret != nil {
		w.Opaque(gs.PathSecret)
	}
	w.Vector(func(*mlsenc.Writer) {})
	b, err := w.Bytes()
	return crypto.Secret(b), err
}

// parseGroupSecrets decodes group secrets; the result aliases b.
func parseGroupSecrets(b []byte) (*GroupSecrets, error) {
	r := mlsenc.NewReader(b)
	gs := &GroupSecrets{JoinerSecret: r.Opaque(MaxHashLen)}
	if r.Bool() {
		gs.PathSecret = r.Opaque(MaxHashLen)
	}
	if psks := r.Opaque(MaxHashLen); len(psks) != 0 {
		r.Fail(ErrWelcome)
	}
	if err := r.Done(); err != nil {
		return nil, err
	}
	return gs, nil
}

// EncryptedGroupSecrets is one joiner's entry of a Welcome.
type EncryptedGroupSecrets struct {
	NewMember []byte // KeyPackageRef
	Secrets   HPKECiphertext
}

// Welcome is RFC 9420's Welcome (§12.4.3.1):
//
//	struct {
//	    CipherSuite cipher_suite;
//	    EncryptedGroupSecrets secrets<V>;
//	    opaque encrypted_group_info<V>;
//	} Welcome;
//
// Conclave sends one per joiner, each with that joiner's entry only.
type Welcome struct {
	Suite              crypto.SuiteID
	Secrets            []EncryptedGroupSecrets
	EncryptedGroupInfo []byte
}

// Encode appends the welcome's encoding to w.
func (wm *Welcome) Encode(w *mlsenc.Writer) {
	w.Uint16(uint16(wm.Suite))
	w.Vector(func(w *mlsenc.Writer) {
		for _, e := range wm.Secrets {
			w.Opaque(e.NewMember)
			w.Opaque(e.Secrets.KEMOutput)
			w.Opaque(e.Secrets.Ciphertext)
		}
	})
	w.Opaque(wm.EncryptedGroupInfo)
}

// Bytes is the welcome's encoding.
func (wm *Welcome) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(nil)
	wm.Encode(w)
	return w.Bytes()
}

// DecodeWelcome reads a welcome from r with bounded lengths.
func DecodeWelcome(r *mlsenc.Reader) *Welcome {
	wm := &Welcome{Suite: crypto.SuiteID(r.Uint16()), Secrets: []EncryptedGroupSecrets{}}
	r.Elements(MaxWelcomeLen, func(e *mlsenc.Reader) {
		wm.Secrets = append(wm.Secrets, EncryptedGroupSecrets{
			NewMember: e.Opaque(MaxHashLen),
			Secrets:   HPKECiphertext{KEMOutput: e.Opaque(MaxKEMOutputLen), Ciphertext: e.Opaque(MaxCiphertext)},
		})
	})
	wm.EncryptedGroupInfo = r.Opaque(MaxGroupInfoLen)
	if r.Err() != nil {
		return nil
	}
	return wm
}

// ParseWelcome decodes a whole welcome, refusing trailing bytes.
func ParseWelcome(b []byte) (*Welcome, error) {
	r := mlsenc.NewReader(b)
	wm := DecodeWelcome(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return wm, nil
}

// groupInfo makes the signed group info of the epoch gc describes, with
// the tree and the refresh table as extensions.
func (g *Group) groupInfo(gc *GroupContext, tag []byte, refreshed []uint64) ([]byte, error) {
	tree, err := g.tree.Bytes()
	if err != nil {
		return nil, err
	}
	ref := make([]byte, 8*len(refreshed))
	for i, e := range refreshed {
		binary.BigEndian.PutUint64(ref[8*i:], e)
	}
	gi := &GroupInfo{
		Context:         *gc,
		Extensions:      []Extension{{ExtensionRatchetTree, tree}, {ExtensionRefreshed, ref}},
		ConfirmationTag: tag,
		Signer:          g.priv.Leaf,
	}
	tbs, err := gi.tbs()
	if err != nil {
		return nil, err
	}
	if gi.Signature, err = g.suite.SignWithLabel(g.sig, "GroupInfoTBS", tbs); err != nil {
		return nil, err
	}
	return gi.Bytes()
}

// welcome makes the welcome of the joiner at leaf j with key package kp:
// the group info sealed under the epoch's welcome key, and the joiner
// secret with the path secret of the lowest committer path node above j
// sealed to the key package's init key.
func (g *Group) welcome(next *Epoch, info []byte, kp *KeyPackage, j uint32, firstPathSecret crypto.Secret, committer uint32) (*Welcome, error) {
	s := g.suite
	key, nonce, err := WelcomeKeyNonce(s, next.WelcomeSecret())
	if err != nil {
		return nil, err
	}
	defer key.Zero()
	defer nonce.Zero()
	aead, err := s.NewAEAD(key)
	if err != nil {
		return nil, err
	}
	sealed := aead.Seal(nil, nonce, info, nil)
	gs := &GroupSecrets{JoinerSecret: next.JoinerSecret()}
	if firstPathSecret != nil {
		ps, _, err := g.tree.pathSecretFor(committer, j, firstPathSecret)
		if err != nil {
			return nil, err
		}
		defer ps.Zero()
		gs.PathSecret = ps
	}
	pt, err := gs.bytes()
	if err != nil {
		return nil, err
	}
	defer pt.Zero()
	initKey, err := s.ParseKEMPublicKey(kp.InitKey)
	if err != nil {
		return nil, err
	}
	kemOut, ct, err := s.EncryptWithLabel(initKey, "Welcome", sealed, pt)
	if err != nil {
		return nil, err
	}
	ref, err := kp.Ref(s)
	if err != nil {
		return nil, err
	}
	return &Welcome{
		Suite:              s.ID(),
		Secrets:            []EncryptedGroupSecrets{{NewMember: ref, Secrets: HPKECiphertext{KEMOutput: kemOut, Ciphertext: ct}}},
		EncryptedGroupInfo: sealed,
	}, nil
}

// openWelcome finds kp's entry in wm, decrypts the group secrets with the
// init key and the group info with the welcome key, and checks the group
// info's signature with the signer's key (from signerKey, given the
// decoded info) and its confirmation tag. It returns the epoch too.
func openWelcome(s *crypto.Suite, wm *Welcome, kp *KeyPackage, initKey *crypto.KEMPrivateKey, signerKey func(*GroupInfo) ([]byte, error)) (*GroupInfo, *GroupSecrets, *Epoch, error) {
	if wm.Suite != s.ID() {
		return nil, nil, nil, ErrKeyPackageSuite
	}
	ref, err := kp.Ref(s)
	if err != nil {
		return nil, nil, nil, err
	}
	var entry *EncryptedGroupSecrets
	for i := range wm.Secrets {
		if bytes.Equal(wm.Secrets[i].NewMember, ref) {
			entry = &wm.Secrets[i]
		}
	}
	if entry == nil {
		return nil, nil, nil, ErrNotForMe
	}
	pt, err := s.DecryptWithLabel(initKey, "Welcome", wm.EncryptedGroupInfo, entry.Secrets.KEMOutput, entry.Secrets.Ciphertext)
	if err != nil {
		return nil, nil, nil, err
	}
	gsBytes := crypto.Secret(pt)
	defer gsBytes.Zero()
	gs, err := parseGroupSecrets(gsBytes)
	if err != nil || len(gs.JoinerSecret) != s.HashSize() || (gs.PathSecret != nil && len(gs.PathSecret) != s.HashSize()) {
		return nil, nil, nil, ErrWelcome
	}
	joiner := gs.JoinerSecret.Clone()
	var pathSecret crypto.Secret
	if gs.PathSecret != nil {
		pathSecret = gs.PathSecret.Clone()
	}
	gs = &GroupSecrets{JoinerSecret: joiner, PathSecret: pathSecret}
	fail := func(err error) (*GroupInfo, *GroupSecrets, *Epoch, error) {
		gs.JoinerSecret.Zero()
		gs.PathSecret.Zero()
		return nil, nil, nil, err
	}
	ws, err := WelcomeSecret(s, joiner, nil)
	if err != nil {
		return fail(err)
	}
	key, nonce, err := WelcomeKeyNonce(s, ws)
	ws.Zero()
	if err != nil {
		return fail(err)
	}
	aead, err := s.NewAEAD(key)
	key.Zero()
	if err != nil {
		nonce.Zero()
		return fail(err)
	}
	info, err := aead.Open(nil, nonce, wm.EncryptedGroupInfo, nil)
	nonce.Zero()
	if err != nil {
		return fail(crypto.ErrDecrypt)
	}
	gi, err := ParseGroupInfo(info)
	if err != nil {
		return fail(err)
	}
	if gi.Context.Suite != s.ID() {
		return fail(ErrKeyPackageSuite)
	}
	pub, err := signerKey(gi)
	if err != nil {
		return fail(err)
	}
	tbs, err := gi.tbs()
	if err != nil {
		return fail(err)
	}
	if err := s.VerifyWithLabel(pub, "GroupInfoTBS", tbs, gi.Signature); err != nil {
		return fail(ErrGroupInfo)
	}
	e, err := JoinEpoch(s, joiner.Clone(), nil, &gi.Context)
	if err != nil {
		return fail(err)
	}
	if !e.VerifyConfirmationTag(gi.Context.ConfirmedTranscriptHash, gi.ConfirmationTag) {
		e.Destroy()
		return fail(ErrConfirmation)
	}
	return gi, gs, e, nil
}

// Join makes a member's group state from a welcome, with the key package
// the joiner published and its secrets: it opens the welcome, validates
// the tree it carries (leaf signatures, parent hashes, unmerged lists)
// against the group context's tree hash, finds the joiner's leaf, checks
// the group info's signer and confirmation tag, and derives the private
// keys of the path above its leaf from the path secret. The init key is
// destroyed.
func Join(s *crypto.Suite, wm *Welcome, kp *KeyPackage, kps *KeyPackageSecrets) (*Group, error) {
	var tree *Tree
	signerKey := func(gi *GroupInfo) ([]byte, error) {
		tb, ok := gi.extension(ExtensionRatchetTree)
		if !ok {
			return nil, ErrWelcome
		}
		t, err := ParseTree(s, tb)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(t.TreeHash(), gi.Context.TreeHash) {
			return nil, ErrWelcomeTreeHash
		}
		if !t.Occupied(gi.Signer) {
			return nil, ErrGroupInfo
		}
		tree = t
		return t.leafView(gi.Signer).SignatureKey, nil
	}
	gi, gs, epoch, err := openWelcome(s, wm, kp, kps.Init, signerKey)
	if err != nil {
		return nil, err
	}
	defer gs.JoinerSecret.Zero()
	defer gs.PathSecret.Zero()
	fail := func(err error) (*Group, error) {
		epoch.Destroy()
		return nil, err
	}
	if err := tree.Validate(gi.Context.GroupID); err != nil {
		return fail(err)
	}
	leafEnc, err := kp.Leaf.Bytes()
	if err != nil {
		return fail(err)
	}
	me, found := uint32(0), false
	for i := uint32(0); i < tree.leaves; i++ {
		if bytes.Equal(tree.nodes[leafNode(i)], leafEnc) {
			me, found = i, true
			break
		}
	}
	if !found {
		return fail(ErrWelcomeNoLeaf)
	}
	ref, ok := gi.extension(ExtensionRefreshed)
	if !ok || len(ref) != 8*int(tree.leaves) {
		return fail(ErrWelcome)
	}
	refreshed := make([]uint64, tree.leaves)
	for i := range refreshed {
		refreshed[i] = binary.BigEndian.Uint64(ref[8*i:])
	}
	priv := NewPrivateKeys(me, kps.Leaf)
	if gs.PathSecret != nil {
		// The path secret is the one of the lowest non-blank node above the
		// joiner on the signer's (committer's) direct path.
		x := leafNode(me)
		var at uint32
		found := false
		for _, p := range directPath(leafNode(gi.Signer), tree.leaves) {
			if isInSubtree(p, x) && !tree.blank(p) {
				at, found = p, true
				break
			}
		}
		if !found {
			return fail(ErrWelcomePathLevel)
		}
		ps := gs.PathSecret.Clone()
		for y := at; ; {
			if !tree.blank(y) {
				if err := priv.SetPathSecret(tree, y, ps); err != nil {
					ps.Zero()
					priv.Destroy()
					return fail(ErrWelcomePathLevel)
				}
				next := s.DeriveSecret(ps, "path")
				ps.Zero()
				ps = next
			}
			if y == root(tree.leaves) {
				break
			}
			y = parent(y)
		}
		ps.Zero()
	}
	kps.DestroyInit()
	return &Group{
		suite:     s,
		tree:      tree,
		priv:      priv,
		sig:       kps.Signing,
		gc:        cloneGroupContext(&gi.Context),
		interim:   InterimTranscriptHash(s, gi.Context.ConfirmedTranscriptHash, gi.ConfirmationTag),
		epoch:     epoch,
		refreshed: refreshed,
		pending:   map[string]*crypto.KEMPrivateKey{},
	}, nil
}

// cloneGroupContext copies gc into storage of its own.
func cloneGroupContext(gc *GroupContext) GroupContext {
	c := *gc
	c.GroupID = bytes.Clone(gc.GroupID)
	c.TreeHash = bytes.Clone(gc.TreeHash)
	c.ConfirmedTranscriptHash = bytes.Clone(gc.ConfirmedTranscriptHash)
	c.Extensions = make([]Extension, len(gc.Extensions))
	for i, e := range gc.Extensions {
		c.Extensions[i] = Extension{Type: e.Type, Data: bytes.Clone(e.Data)}
	}
	return c
}
