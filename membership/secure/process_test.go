package secure

import (
	"testing"
	"time"
)

// TestProcessKeepsUnchangedLeaves checks that a member processing a commit
// keeps the leaf nodes it had decoded of every member whose leaf the
// commit left byte for byte as it was, and decodes again the one it
// changed (the committer's): a kept node is the very one of the old epoch,
// a changed one is the new tree's.
func TestProcessKeepsUnchangedLeaves(t *testing.T) {
	c := newCluster(t)
	c.form(4)
	live := seq(0, 3)
	olds := make([]*epochState, len(live))
	for _, i := range live {
		olds[i] = c.parts[i].cur
		for r := range olds[i].leaves {
			olds[i].leaf(r)
		}
	}
	c.crash(3)
	c.runUntil(3*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
	kept, changed, processed := 0, 0, 0
	for _, i := range live {
		old, st := olds[i], c.parts[i].cur
		if st == old {
			t.Fatalf("member %d: no new epoch", i)
		}
		if st.group == old.group {
			continue // the committer: its group went on in place
		}
		processed++
		for r, e := range st.view.Members {
			or := old.view.Rank(e)
			if or < 0 {
				t.Fatalf("member %v is new", e)
			}
			same := st.group.Tree().SameLeaf(old.group.Tree(), st.leaves[r])
			switch {
			case same && (st.nodes == nil || st.nodes[r] != old.nodes[or]):
				t.Errorf("member %d, rank %d: an unchanged leaf was decoded again", i, r)
			case same:
				kept++
			default:
				changed++
				l := st.leaf(r)
				if l == old.nodes[or] {
					t.Errorf("member %d, rank %d: a changed leaf kept the old epoch's node", i, r)
				}
				want := st.group.Tree().Leaf(st.leaves[r])
				if string(l.Signature) != string(want.Signature) || string(l.EncryptionKey) != string(want.EncryptionKey) {
					t.Errorf("member %d, rank %d: the changed leaf's node is not the new tree's", i, r)
				}
			}
		}
	}
	if processed == 0 {
		t.Fatal("no member processed the commit")
	}
	if kept == 0 || changed == 0 {
		t.Fatalf("%d leaves kept and %d changed: want both", kept, changed)
	}
}
