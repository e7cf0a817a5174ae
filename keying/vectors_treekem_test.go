package keying

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"io"
	mrand "math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*h = nil
		return nil
	}
	if len(b) < 2 || b[0] != '"' || b[len(b)-1] != '"' {
		return errors.New("hex string expected")
	}
	d, err := hex.DecodeString(string(b[1 : len(b)-1]))
	if err != nil {
		return err
	}
	*h = d
	return nil
}

type treeKEMVector struct {
	CipherSuite             uint16   `json:"cipher_suite"`
	GroupID                 hexBytes `json:"group_id"`
	Epoch                   uint64   `json:"epoch"`
	ConfirmedTranscriptHash hexBytes `json:"confirmed_transcript_hash"`
	RatchetTree             hexBytes `json:"ratchet_tree"`
	LeavesPrivate           []struct {
		Index          uint32   `json:"index"`
		EncryptionPriv hexBytes `json:"encryption_priv"`
		SignaturePriv  hexBytes `json:"signature_priv"`
		PathSecrets    []struct {
			Node       uint32   `json:"node"`
			PathSecret hexBytes `json:"path_secret"`
		} `json:"path_secrets"`
	} `json:"leaves_private"`
	UpdatePaths []struct {
		Sender        uint32     `json:"sender"`
		UpdatePath    hexBytes   `json:"update_path"`
		PathSecrets   []hexBytes `json:"path_secrets"`
		CommitSecret  hexBytes   `json:"commit_secret"`
		TreeHashAfter hexBytes   `json:"tree_hash_after"`
	} `json:"update_paths"`
}

// vectorSuite returns the suite of a vector case, or nil (and a logged skip)
// for the X448 suites the crypto package cannot offer. Any other failure is
// fatal, so a claimed suite can never be skipped silently.
func vectorSuite(t *testing.T, id uint16, skipped *int) *crypto.Suite {
	t.Helper()
	s, err := crypto.LookupSuite(crypto.SuiteID(id))
	if errors.Is(err, crypto.ErrX448Unavailable) {
		*skipped++
		t.Logf("skip: suite 0x%04x: %v", id, err)
		return nil
	}
	if err != nil {
		t.Fatalf("suite 0x%04x: %v", id, err)
	}
	return s
}

func TestVectorsTreeKEM(t *testing.T) {
	var cases []treeKEMVector
	loadVectors(t, "treekem.json", &cases)
	ran, skipped := 0, 0
	claimed := map[uint16]int{}
	for ci, c := range cases {
		s := vectorSuite(t, c.CipherSuite, &skipped)
		if s == nil {
			continue
		}
		runTreeKEMCase(t, ci, s, &c)
		ran++
		claimed[c.CipherSuite]++
	}
	t.Logf("treekem: %d cases run %v, %d skipped (X448/Ed448 suites only)", ran, claimed, skipped)
	for _, id := range crypto.Suites() {
		if id < 0xF000 && claimed[uint16(id)] == 0 {
			t.Errorf("suite %v claimed by crypto but has no treekem case run", id)
		}
	}
}

func runTreeKEMCase(t *testing.T, ci int, s *crypto.Suite, c *treeKEMVector) {
	tree, err := ParseTree(s, c.RatchetTree)
	if err != nil {
		t.Fatalf("case %d: parse tree: %v", ci, err)
	}
	if enc, err := tree.Bytes(); err != nil || !bytes.Equal(enc, c.RatchetTree) {
		t.Fatalf("case %d: tree does not re-encode to its input", ci)
	}
	if err := tree.Validate(c.GroupID); err != nil {
		t.Fatalf("case %d: validate tree: %v", ci, err)
	}
	privs := map[uint32]*PrivateKeys{}
	sigs := map[uint32]*crypto.SigningKey{}
	for _, lp := range c.LeavesPrivate {
		k, err := s.ParseKEMPrivateKey(lp.EncryptionPriv)
		if err != nil {
			t.Fatalf("case %d leaf %d: %v", ci, lp.Index, err)
		}
		leaf := tree.Leaf(lp.Index)
		if leaf == nil || !bytes.Equal(leaf.EncryptionKey, k.PublicKey().Bytes()) {
			t.Fatalf("case %d leaf %d: private key does not match the tree", ci, lp.Index)
		}
		sk, err := s.ParseSigningKey(lp.SignaturePriv)
		if err != nil || !bytes.Equal(sk.PublicKey(), leaf.SignatureKey) {
			t.Fatalf("case %d leaf %d: signature key does not match the tree (%v)", ci, lp.Index, err)
		}
		p := NewPrivateKeys(lp.Index, k)
		for _, ps := range lp.PathSecrets {
			if err := p.SetPathSecret(tree, ps.Node, crypto.Secret(ps.PathSecret)); err != nil {
				t.Fatalf("case %d leaf %d node %d: %v", ci, lp.Index, ps.Node, err)
			}
		}
		if err := p.Check(tree); err != nil {
			t.Fatal(err)
		}
		privs[lp.Index] = p
		sigs[lp.Index] = sk
	}
	gcFor := func() *GroupContext {
		return &GroupContext{Suite: s.ID(), GroupID: c.GroupID, Epoch: c.Epoch,
			ConfirmedTranscriptHash: c.ConfirmedTranscriptHash, Extensions: []Extension{}}
	}
	for ui, u := range c.UpdatePaths {
		up, err := ParseUpdatePath(u.UpdatePath)
		if err != nil {
			t.Fatalf("case %d path %d: parse: %v", ci, ui, err)
		}
		if enc, err := up.Bytes(); err != nil || !bytes.Equal(enc, u.UpdatePath) {
			t.Fatalf("case %d path %d: update path does not re-encode to its input", ci, ui)
		}
		// The public merge alone gives the tree hash after.
		pub := tree.Clone()
		gc := gcFor()
		if err := pub.ApplyPath(u.Sender, up, gc); err != nil {
			t.Fatalf("case %d path %d: apply: %v", ci, ui, err)
		}
		if !bytes.Equal(pub.TreeHash(), u.TreeHashAfter) {
			t.Errorf("case %d path %d: tree hash after differs", ci, ui)
		}
		if err := pub.Validate(c.GroupID); err != nil {
			t.Errorf("case %d path %d: merged tree does not validate: %v", ci, ui, err)
		}
		for j, p := range privs {
			if j == u.Sender {
				continue
			}
			tj := tree.Clone()
			pj, err := p.Clone(s)
			if err != nil {
				t.Fatal(err)
			}
			res, err := tj.ProcessPath(pj, u.Sender, up, gcFor(), nil)
			if err != nil {
				t.Fatalf("case %d path %d receiver %d: %v", ci, ui, j, err)
			}
			if !bytes.Equal(res.PathSecret, u.PathSecrets[j]) {
				t.Errorf("case %d path %d receiver %d: path secret differs", ci, ui, j)
			}
			if !bytes.Equal(res.CommitSecret, u.CommitSecret) {
				t.Errorf("case %d path %d receiver %d: commit secret differs", ci, ui, j)
			}
			if !bytes.Equal(tj.TreeHash(), u.TreeHashAfter) {
				t.Errorf("case %d path %d receiver %d: tree hash after differs", ci, ui, j)
			}
			if err := pj.Check(tj); err != nil {
				t.Errorf("case %d path %d receiver %d: %v", ci, ui, j, err)
			}
		}

		// A fresh path from the same sender reaches every other member.
		ts := tree.Clone()
		ps, err := privs[u.Sender].Clone(s)
		if err != nil {
			t.Fatal(err)
		}
		gcs := gcFor()
		newUp, sres, err := ts.CreatePath(ps, tree.Leaf(u.Sender), sigs[u.Sender], gcs, nil, detRand(uint64(ci*100+ui)))
		if err != nil {
			t.Fatalf("case %d path %d: create: %v", ci, ui, err)
		}
		enc, err := newUp.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		newUp, err = ParseUpdatePath(enc)
		if err != nil {
			t.Fatalf("case %d path %d: created path does not parse: %v", ci, ui, err)
		}
		for j, p := range privs {
			if j == u.Sender {
				continue
			}
			tj := tree.Clone()
			pj, err := p.Clone(s)
			if err != nil {
				t.Fatal(err)
			}
			gcj := gcFor()
			res, err := tj.ProcessPath(pj, u.Sender, newUp, gcj, nil)
			if err != nil {
				t.Fatalf("case %d path %d receiver %d of fresh path: %v", ci, ui, j, err)
			}
			if !bytes.Equal(res.CommitSecret, sres.CommitSecret) {
				t.Errorf("case %d path %d receiver %d: fresh commit secret differs", ci, ui, j)
			}
			if !bytes.Equal(tj.TreeHash(), ts.TreeHash()) {
				t.Errorf("case %d path %d receiver %d: fresh tree hash differs", ci, ui, j)
			}
		}
	}
}

// detRand is a deterministic randomness source for this file's tests.
func detRand(seed uint64) io.Reader {
	var s [32]byte
	binary.LittleEndian.PutUint64(s[:], seed)
	s[31] = 0x6b
	return mrand.NewChaCha8(s)
}
