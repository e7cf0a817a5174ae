package keying

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// smallGroup builds a group of n members by adds committed by member 0,
// returning every member's state in leaf order.
func smallGroup(t testing.TB, s *crypto.Suite, n int, seed uint64) []*Group {
	t.Helper()
	r := detRand(seed)
	newKP := func(id string) (*KeyPackage, *KeyPackageSecrets) {
		sig, err := s.GenerateSigningKey(r)
		if err != nil {
			t.Fatal(err)
		}
		kp, kps, err := NewKeyPackage(s, []byte(id), sig, Lifetime{0, 1 << 40}, r)
		if err != nil {
			t.Fatal(err)
		}
		return kp, kps
	}
	kp, kps := newKP("m0")
	g0, err := NewGroup(s, []byte("property group"), kp, kps, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	gs := []*Group{g0}
	for len(gs) < n {
		kp, kps := newKP("m" + string(rune('0'+len(gs))))
		res, err := g0.Commit([]Proposal{{Type: ProposalAdd, KeyPackage: kp}}, nil, r)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs[1:] {
			if err := g.Process(res.Commit); err != nil {
				t.Fatal(err)
			}
		}
		j, err := Join(s, res.Welcomes[0], kp, kps)
		if err != nil {
			t.Fatal(err)
		}
		gs = append(gs, j)
	}
	return gs
}

func commitAndProcess(t testing.TB, gs []*Group, c int, props []Proposal, r io.Reader) *CommitResult {
	t.Helper()
	res, err := gs[c].Commit(props, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range gs {
		if i != c {
			if err := g.Process(res.Commit); err != nil {
				t.Fatalf("member %d: %v", i, err)
			}
		}
	}
	return res
}

func suite1(t testing.TB) *crypto.Suite {
	s, err := crypto.LookupSuite(0x0001)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestRotatingCommittersKeepCommitsCheap: when member 0 makes every commit,
// the other parents stay blank and a commit costs an encryption per other
// member; once each member has committed in the order OldestPath gives,
// every commit costs one encryption per level.
func TestRotatingCommittersKeepCommitsCheap(t *testing.T) {
	s := suite1(t)
	const n = 8
	gs := smallGroup(t, s, n, 1)
	if c, _ := gs[0].CommitCost(0, nil); c != n-1 {
		t.Fatalf("single committer: commit costs %d, want %d", c, n-1)
	}
	r := detRand(2)
	for k := 0; k < n; k++ {
		next := gs[0].OldestPath()
		for _, g := range gs {
			if g.OldestPath() != next {
				t.Fatal("members disagree on the oldest path")
			}
		}
		res := commitAndProcess(t, gs, int(next), nil, r)
		if c := gs[0].Refreshed(next); c != gs[0].Context().Epoch {
			t.Fatalf("member %d refreshed at %d, epoch %d", next, c, gs[0].Context().Epoch)
		}
		_ = res
	}
	for i := range gs {
		if c, _ := gs[0].CommitCost(uint32(i), nil); c != 3 {
			t.Errorf("after rotation member %d's commit costs %d, want log2(%d) = 3", i, c, n)
		}
	}
}

// TestStateRoundTrip: a saved and restored member follows the group exactly
// as the original does; saved states are strict.
func TestStateRoundTrip(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 5, 3)
	r := detRand(4)
	if _, err := gs[2].ProposeUpdate(r); err != nil {
		t.Fatal(err)
	}
	saved, err := gs[2].Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	restored, _, err := Unmarshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	again, err := restored.Marshal(nil)
	if err != nil || !bytes.Equal(again, saved) {
		t.Fatal("restored state does not save to the same bytes")
	}
	res, err := gs[1].Commit(nil, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := gs[2].Process(res.Commit); err != nil {
		t.Fatal(err)
	}
	if err := restored.Process(res.Commit); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restored.Epoch().EpochAuthenticator(), gs[2].Epoch().EpochAuthenticator()) {
		t.Fatal("restored member derived another epoch")
	}
	if _, _, err := Unmarshal(append(bytes.Clone(saved), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	if _, _, err := Unmarshal(saved[:len(saved)-1]); err == nil {
		t.Error("truncated state accepted")
	}
	bad := bytes.Clone(saved)
	bad[0] = 2
	if _, _, err := Unmarshal(bad); err == nil {
		t.Error("unknown version accepted")
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%x", "%s"} {
		if out := fmt.Sprintf(verb, gs[2]); !strings.Contains(out, "redacted") || strings.Contains(out, fmt.Sprintf("%x", []byte(gs[2].Epoch().EpochAuthenticator()))[:16]) {
			t.Errorf("%s prints %q", verb, out)
		}
	}
}

// TestProcessRejectsTampering: a commit with any part altered is refused
// and leaves the member able to process the genuine one.
func TestProcessRejectsTampering(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 5)
	r := detRand(6)
	res, err := gs[0].Commit([]Proposal{{Type: ProposalRemove, Removed: 3}}, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	enc, _ := res.Commit.Bytes()
	tampers := map[string]func(c *Commit){
		"confirmation tag": func(c *Commit) { c.ConfirmationTag[0] ^= 1 },
		"signature":        func(c *Commit) { c.Signature[0] ^= 1 },
		"path ciphertext":  func(c *Commit) { c.Path.Nodes[0].Secrets[0].Ciphertext[0] ^= 1 },
		"path key":         func(c *Commit) { c.Path.Nodes[1].EncryptionKey[0] ^= 1 },
		"epoch":            func(c *Commit) { c.Epoch++ },
		"proposal":         func(c *Commit) { c.Proposals[0].Removed = 2 },
		"committer":        func(c *Commit) { c.Committer = 2 },
		"extensions":       func(c *Commit) { c.Extensions = []Extension{{Type: ExtensionTypeConclaveContext, Data: []byte("v")}} },
	}
	before, _ := gs[1].Marshal(nil)
	for name, tamper := range tampers {
		c, err := ParseCommit(enc)
		if err != nil {
			t.Fatal(err)
		}
		tamper(c)
		if err := gs[1].Process(c); err == nil {
			t.Errorf("tampered %s accepted", name)
		}
		if after, _ := gs[1].Marshal(nil); !bytes.Equal(after, before) {
			t.Fatalf("refused commit (%s) changed the member's state", name)
		}
	}
	for _, g := range gs[1:3] {
		if err := g.Process(res.Commit); err != nil {
			t.Fatal(err)
		}
	}
	if err := gs[3].Process(res.Commit); !errors.Is(err, ErrRemoved) {
		t.Fatalf("removed member: %v, want ErrRemoved", err)
	}
}

// TestTreeEditsAndRollback: random adds, updates and removes keep the
// cached tree hash equal to one computed from scratch, and a rolled-back
// edit restores the tree exactly, resizes included.
func TestTreeEditsAndRollback(t *testing.T) {
	s := suite1(t)
	rng := rand.New(rand.NewPCG(7, 8))
	r := detRand(9)
	sig, _ := s.GenerateSigningKey(r)
	leaf := func() *LeafNode {
		k, err := s.GenerateKeyPair(r)
		if err != nil {
			t.Fatal(err)
		}
		return &LeafNode{EncryptionKey: k.PublicKey().Bytes(), SignatureKey: sig.PublicKey(),
			Credential:   Credential{Type: CredentialBasic, Identity: []byte{byte(rng.Uint32())}},
			Capabilities: DefaultCapabilities(s.ID()), Source: SourceKeyPackage, Extensions: []Extension{}, Signature: []byte{1}}
	}
	tr := NewTree(s)
	tr.AddLeaf(leaf())
	edit := func() {
		m := tr.Members()
		switch op := rng.IntN(4); {
		case op == 0 && len(m) > 1:
			if err := tr.RemoveLeaf(m[rng.IntN(len(m))]); err != nil {
				t.Fatal(err)
			}
		case op == 1:
			if err := tr.UpdateLeaf(m[rng.IntN(len(m))], leaf()); err != nil {
				t.Fatal(err)
			}
		case op == 2:
			i := m[rng.IntN(len(m))]
			priv := NewPrivateKeys(i, nil)
			gc := &GroupContext{Suite: s.ID(), GroupID: []byte("g"), Extensions: []Extension{}}
			if _, _, err := tr.CreatePath(priv, tr.Leaf(i), sig, gc, nil, r); err != nil {
				t.Fatal(err)
			}
		default:
			if _, err := tr.AddLeaf(leaf()); err != nil {
				t.Fatal(err)
			}
		}
	}
	for step := 0; step < 300; step++ {
		before, _ := tr.Bytes()
		hashBefore := tr.TreeHash()
		if rng.IntN(3) == 0 {
			tr.begin()
			for k := rng.IntN(4) + 1; k > 0; k-- {
				edit()
			}
			tr.TreeHash()
			tr.rollback()
			after, _ := tr.Bytes()
			if !bytes.Equal(after, before) || !bytes.Equal(tr.TreeHash(), hashBefore) {
				t.Fatalf("step %d: rollback did not restore the tree", step)
			}
			continue
		}
		edit()
		enc, _ := tr.Bytes()
		fresh, err := ParseTree(s, enc)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if !bytes.Equal(fresh.TreeHash(), tr.TreeHash()) {
			t.Fatalf("step %d: cached tree hash differs from a fresh one", step)
		}
		if tr.LeafCount() != fresh.LeafCount() {
			t.Fatalf("step %d: tree not truncated: %d leaves, fresh %d", step, tr.LeafCount(), fresh.LeafCount())
		}
	}
}

// TestParsersRefuseTrailingAndTruncated runs every decoder on a valid
// encoding with a byte added and a byte removed.
func TestParsersRefuseTrailingAndTruncated(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 3, 10)
	xsig, _ := s.GenerateSigningKey(detRand(15))
	kp, _, _ := NewKeyPackage(s, []byte("x"), xsig, Lifetime{}, detRand(11))
	res, err := gs[0].Commit([]Proposal{{Type: ProposalAdd, KeyPackage: kp}}, nil, detRand(12))
	if err != nil {
		t.Fatal(err)
	}
	// A key package reusing a member's signature key is refused.
	dup, _, _ := NewKeyPackage(s, []byte("y"), gs[1].sig, Lifetime{}, detRand(13))
	if _, err := gs[0].Commit([]Proposal{{Type: ProposalAdd, KeyPackage: dup}}, nil, detRand(14)); !errors.Is(err, ErrDuplicateID) {
		t.Errorf("add reusing a member's signature key: %v, want ErrDuplicateID", err)
	}
	tree, _ := gs[0].tree.Bytes()
	commit, _ := res.Commit.Bytes()
	path, _ := res.Commit.Path.Bytes()
	leaf, _ := res.Commit.Path.Leaf.Bytes()
	welcome, _ := res.Welcomes[0].Bytes()
	kpb, _ := kp.Bytes()
	parsers := map[string]struct {
		b     []byte
		parse func([]byte) error
	}{
		"tree":        {tree, func(b []byte) error { _, err := ParseTree(s, b); return err }},
		"commit":      {commit, func(b []byte) error { _, err := ParseCommit(b); return err }},
		"update path": {path, func(b []byte) error { _, err := ParseUpdatePath(b); return err }},
		"leaf node":   {leaf, func(b []byte) error { _, err := ParseLeafNode(b); return err }},
		"welcome":     {welcome, func(b []byte) error { _, err := ParseWelcome(b); return err }},
		"key package": {kpb, func(b []byte) error { _, err := ParseKeyPackage(b); return err }},
	}
	// A parent listing an unmerged leaf outside its subtree is refused.
	tr := gs[0].tree.Clone()
	x := root(tr.LeafCount())
	p := tr.ParentNode(x)
	p.UnmergedLeaves = []uint32{tr.LeafCount()}
	if err := tr.setParent(x, p); err != nil {
		t.Fatal(err)
	}
	if b, _ := tr.Bytes(); b != nil {
		if _, err := ParseTree(s, b); err == nil {
			t.Error("tree with an unmerged leaf outside the tree accepted")
		}
	}
	for name, p := range parsers {
		if err := p.parse(p.b); err != nil {
			t.Fatalf("%s: valid encoding refused: %v", name, err)
		}
		if err := p.parse(append(bytes.Clone(p.b), 0)); err == nil {
			t.Errorf("%s: trailing byte accepted", name)
		}
		if err := p.parse(p.b[:len(p.b)-1]); err == nil {
			t.Errorf("%s: truncated encoding accepted", name)
		}
	}
}

// TestStateWithSecretTree: a member saved after sending under its secret
// tree resumes past every generation it used, and its restored epoch
// cannot make the secret tree again (which would restart generations and
// reuse a key and nonce).
func TestStateWithSecretTree(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 3, 13)
	g := gs[1]
	st, err := g.Epoch().NewSecretTree(g.Tree().LeafCount())
	if err != nil {
		t.Fatal(err)
	}
	rt, err := st.Ratchet(g.Index(), ApplicationRatchet)
	if err != nil {
		t.Fatal(err)
	}
	used := map[string]bool{}
	for k := 0; k < 3; k++ {
		kn, err := rt.Next()
		if err != nil {
			t.Fatal(err)
		}
		used[string(kn.Key)+string(kn.Nonce)] = true
	}
	saved, err := g.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	rg, rst, err := Unmarshal(saved)
	if err != nil {
		t.Fatal(err)
	}
	if rst == nil {
		t.Fatal("secret tree not restored")
	}
	if _, err := rg.Epoch().NewSecretTree(rg.Tree().LeafCount()); !errors.Is(err, ErrTreeTaken) {
		t.Fatalf("restored epoch made a second secret tree: %v", err)
	}
	rrt, err := rst.Ratchet(rg.Index(), ApplicationRatchet)
	if err != nil {
		t.Fatal(err)
	}
	kn, err := rrt.Next()
	if err != nil {
		t.Fatal(err)
	}
	if used[string(kn.Key)+string(kn.Nonce)] {
		t.Fatal("restored member reuses a key and nonce")
	}
}

// TestPrepareCommitAbandon: an abandoned commit leaves the committer
// exactly as it was, able to follow another member's commit; a confirmed
// one moves it to the epoch the others reach.
func TestPrepareCommitAbandon(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 16)
	r := detRand(17)
	before, err := gs[0].Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := gs[0].PrepareCommit([]Proposal{{Type: ProposalRemove, Removed: 2}}, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := gs[0].PrepareCommit(nil, nil, r); !errors.Is(err, ErrCommitPending) {
		t.Fatalf("second prepare: %v, want ErrCommitPending", err)
	}
	p.Abandon()
	if after, _ := gs[0].Marshal(nil); !bytes.Equal(after, before) {
		t.Fatal("abandoned commit changed the committer")
	}
	commitAndProcess(t, gs, 1, nil, r)
	res, p, err := gs[0].PrepareCommit(nil, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs[1:] {
		if err := g.Process(res.Commit); err != nil {
			t.Fatal(err)
		}
	}
	p.Confirm()
	for _, g := range gs[1:] {
		if !bytes.Equal(g.Epoch().EpochAuthenticator(), gs[0].Epoch().EpochAuthenticator()) {
			t.Fatal("confirmed commit: committer in another epoch")
		}
	}
}
