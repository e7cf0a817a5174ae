package keying

import (
	"bytes"
	"testing"
)

// TestTreeLeafIsACopy: the leaf node Tree.Leaf returns is the caller's:
// changing its fields in place or appending to them changes neither the
// tree nor the leaf's other fields.
func TestTreeLeafIsACopy(t *testing.T) {
	s := suite1(t)
	g := smallGroup(t, s, 3, 40)[0]
	tr := g.Tree()
	enc, err := tr.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	hash := tr.TreeHash()
	want, err := tr.Leaf(1).Bytes()
	if err != nil {
		t.Fatal(err)
	}

	l := tr.Leaf(1)
	sigKey := bytes.Clone(l.SignatureKey)
	l.EncryptionKey = append(l.EncryptionKey, 1, 2, 3, 4, 5, 6, 7, 8)
	if !bytes.Equal(l.SignatureKey, sigKey) {
		t.Fatal("appending to the encryption key overwrote the signature key")
	}
	for _, b := range [][]byte{l.EncryptionKey, l.SignatureKey, l.Credential.Identity, l.ParentHash, l.Signature} {
		for i := range b {
			b[i] ^= 0xff
		}
	}
	for _, e := range l.Extensions {
		for i := range e.Data {
			e.Data[i] ^= 0xff
		}
	}
	l.Capabilities.Versions[0] ^= 0xff

	if got, err := tr.Bytes(); err != nil || !bytes.Equal(got, enc) {
		t.Fatal("changing a leaf from Tree.Leaf changed the tree")
	}
	if !bytes.Equal(tr.TreeHash(), hash) {
		t.Fatal("changing a leaf from Tree.Leaf changed the tree hash")
	}
	if got, err := tr.Leaf(1).Bytes(); err != nil || !bytes.Equal(got, want) {
		t.Fatal("changing a leaf from Tree.Leaf changed the next one it returns")
	}
}

// TestSameLeaf: SameLeaf holds for a leaf a commit left as it was and
// fails for the committer's new leaf, a removed (blank) leaf and an index
// outside either tree.
func TestSameLeaf(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 41)
	before := gs[1].Tree().Clone()
	r := detRand(42)
	res, err := gs[0].Commit([]Proposal{{Type: ProposalRemove, Removed: 3}}, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := gs[1].Process(res.Commit); err != nil {
		t.Fatal(err)
	}
	after := gs[1].Tree()
	for i, want := range []bool{false, true, true, false} {
		if got := after.SameLeaf(before, uint32(i)); got != want {
			t.Errorf("leaf %d: SameLeaf %v, want %v", i, got, want)
		}
	}
	if after.SameLeaf(before, 1<<20) {
		t.Error("SameLeaf of a leaf outside the trees")
	}
}
