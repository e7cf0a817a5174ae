package keying

import (
	"bytes"
	"testing"
)

// TestEncodingsSizedAhead checks that the encodings on a commit's hot path
// (the group context, a leaf node and its signed content, a parent node,
// a commit, a key package) size their buffer once from their fields rather than grow it
// field by field, and that the size is a bound: the encoding never
// outgrows it.
func TestEncodingsSizedAhead(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 5, 43)
	res, err := gs[0].Commit([]Proposal{{Type: ProposalRemove, Removed: 4}}, nil, detRand(44))
	if err != nil {
		t.Fatal(err)
	}
	c := res.Commit
	leaf := gs[1].Tree().Leaf(1)
	var parent *ParentNode
	for x := uint32(1); x < uint32(len(gs[0].tree.nodes)) && parent == nil; x += 2 {
		parent = gs[0].tree.ParentNode(x)
	}
	if parent == nil {
		t.Fatal("no parent node")
	}
	gc := gs[0].gc
	sig, err := s.GenerateSigningKey(detRand(45))
	if err != nil {
		t.Fatal(err)
	}
	kp, _, err := NewKeyPackage(s, []byte("joiner"), sig, Lifetime{0, 1 << 40}, detRand(46))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		hint int
		enc  func() ([]byte, error)
	}{
		{"group context", -1, gc.Bytes},
		{"leaf node", leaf.sizeHint(), leaf.Bytes},
		{"leaf node TBS", -1, func() ([]byte, error) { return leaf.tbs(gc.GroupID, 1) }},
		{"commit leaf", c.Path.Leaf.sizeHint(), c.Path.Leaf.Bytes},
		{"parent node", -1, parent.Bytes},
		{"update path", c.Path.sizeHint(), c.Path.Bytes},
		{"commit", c.sizeHint(), c.Bytes},
		{"commit content", -1, c.content},
		{"key package", kp.sizeHint(), kp.Bytes},
	}
	for _, tc := range cases {
		b, err := tc.enc()
		if err != nil {
			t.Fatal(err)
		}
		if tc.hint >= 0 && len(b) > tc.hint {
			t.Errorf("%s: %d bytes, over its size hint %d", tc.name, len(b), tc.hint)
		}
		if a := testing.AllocsPerRun(20, func() { tc.enc() }); a > 2 {
			t.Errorf("%s: encoding allocates %v times, want at most 2 (the writer and its buffer)", tc.name, a)
		}
	}
	tbs, err := c.contentAfter([]byte("prefix"))
	content, _ := c.content()
	if err != nil || !bytes.Equal(tbs, append([]byte("prefix"), content...)) {
		t.Fatal("content after a prefix is not the prefix followed by the content")
	}
}
