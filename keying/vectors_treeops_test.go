package keying

import (
	"bytes"
	"testing"
)

type treeOpsVector struct {
	CipherSuite    uint16   `json:"cipher_suite"`
	TreeBefore     hexBytes `json:"tree_before"`
	Proposal       hexBytes `json:"proposal"`
	ProposalSender uint32   `json:"proposal_sender"`
	TreeHashBefore hexBytes `json:"tree_hash_before"`
	TreeAfter      hexBytes `json:"tree_after"`
	TreeHashAfter  hexBytes `json:"tree_hash_after"`
}

func TestVectorsTreeOperations(t *testing.T) {
	var cases []treeOpsVector
	loadVectors(t, "tree-operations.json", &cases)
	ran, skipped := 0, 0
	for ci, c := range cases {
		s := vectorSuite(t, c.CipherSuite, &skipped)
		if s == nil {
			continue
		}
		tree, err := ParseTree(s, c.TreeBefore)
		if err != nil {
			t.Fatalf("case %d: %v", ci, err)
		}
		if !bytes.Equal(tree.TreeHash(), c.TreeHashBefore) {
			t.Errorf("case %d: tree hash before differs", ci)
		}
		p, err := ParseProposal(c.Proposal)
		if err != nil {
			t.Fatalf("case %d: proposal: %v", ci, err)
		}
		switch p.Type {
		case ProposalAdd:
			_, err = tree.AddLeaf(p.KeyPackage.Leaf)
		case ProposalUpdate:
			err = tree.UpdateLeaf(c.ProposalSender, p.Leaf)
		case ProposalRemove:
			err = tree.RemoveLeaf(p.Removed)
		}
		if err != nil {
			t.Fatalf("case %d: apply proposal type %d: %v", ci, p.Type, err)
		}
		after, err := tree.Bytes()
		if err != nil || !bytes.Equal(after, c.TreeAfter) {
			t.Errorf("case %d (proposal type %d): tree after differs", ci, p.Type)
		}
		if !bytes.Equal(tree.TreeHash(), c.TreeHashAfter) {
			t.Errorf("case %d (proposal type %d): tree hash after differs", ci, p.Type)
		}
		ran++
	}
	t.Logf("tree-operations: %d cases run, %d skipped", ran, skipped)
}
