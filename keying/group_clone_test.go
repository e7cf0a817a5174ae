package keying

import (
	"bytes"
	"errors"
	"testing"
)

// TestCloneIsIndependent: a clone saves to the same bytes as its original;
// processing a commit on the clone and destroying it leave the original's
// tree, private keys, pending update key, signing key and key schedule as
// they were, and the original then processes the same commit to the same
// epoch; the other way round, a clone outlives its destroyed original.
func TestCloneIsIndependent(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 5, 11)
	r := detRand(12)
	g := gs[2]
	upd, err := g.ProposeUpdate(r)
	if err != nil {
		t.Fatal(err)
	}
	before, err := g.Marshal(nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Clone()
	if err != nil {
		t.Fatal(err)
	}
	if saved, err := c.Marshal(nil); err != nil || !bytes.Equal(saved, before) {
		t.Fatalf("the clone saves to other bytes than its original (%v)", err)
	}
	// A commit by member 1 that takes member 2's update: processing it
	// replaces member 2's leaf key by the pending one and its path keys.
	res, err := gs[1].Commit([]Proposal{upd}, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Process(res.Commit); err != nil {
		t.Fatal(err)
	}
	c.Destroy()
	if saved, err := g.Marshal(nil); err != nil || !bytes.Equal(saved, before) {
		t.Fatalf("processing on the clone and destroying it changed the original (%v)", err)
	}
	for x, k := range g.priv.keys {
		if _, err := k.Bytes(); err != nil {
			t.Fatalf("the original's key of node %d was destroyed with the clone", x)
		}
	}
	if err := g.Process(res.Commit); err != nil {
		t.Fatalf("the original cannot process the commit after its clone did: %v", err)
	}
	if !bytes.Equal(g.Epoch().EpochAuthenticator(), gs[1].Epoch().EpochAuthenticator()) {
		t.Fatal("the original reached another epoch than the committer")
	}

	// The clone lives on without its original.
	c, err = g.Clone()
	if err != nil {
		t.Fatal(err)
	}
	g.Destroy()
	for i, o := range gs {
		if i != 1 && i != 2 {
			if err := o.Process(res.Commit); err != nil {
				t.Fatal(err)
			}
		}
	}
	res, err = gs[3].Commit(nil, nil, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Process(res.Commit); err != nil {
		t.Fatalf("the clone cannot process a commit once its original is destroyed: %v", err)
	}
	if !bytes.Equal(c.Epoch().EpochAuthenticator(), gs[3].Epoch().EpochAuthenticator()) {
		t.Fatal("the clone reached another epoch than the committer")
	}
	// Its signing key is its own too, and signs as the original's did.
	p, err := c.ProposeUpdate(r)
	if err != nil {
		t.Fatalf("the clone cannot sign once its original is destroyed: %v", err)
	}
	if err := p.Leaf.Verify(s, c.Context().GroupID, c.Index()); err != nil {
		t.Fatalf("the clone signs wrong once its original is destroyed: %v", err)
	}
}

// TestCloneKeepsEpochSecrets: destroying a clone zeroes its own key
// schedule, not the original's.
func TestCloneKeepsEpochSecrets(t *testing.T) {
	s := suite1(t)
	g := smallGroup(t, s, 3, 13)[1]
	want := bytes.Clone(g.Epoch().EpochAuthenticator())
	exp, err := g.Epoch().Export("test", nil, 32)
	if err != nil {
		t.Fatal(err)
	}
	c, err := g.Clone()
	if err != nil {
		t.Fatal(err)
	}
	c.Destroy()
	if !bytes.Equal(g.Epoch().EpochAuthenticator(), want) {
		t.Fatal("destroying the clone zeroed the original's epoch secrets")
	}
	if again, err := g.Epoch().Export("test", nil, 32); err != nil || !bytes.Equal(again, exp) {
		t.Fatal("the original's exporter changed with its clone's destruction")
	}
}

// TestCloneRefusesPendingCommit: a member whose commit is pending cannot
// be cloned.
func TestCloneRefusesPendingCommit(t *testing.T) {
	s := suite1(t)
	g := smallGroup(t, s, 3, 14)[0]
	if _, _, err := g.PrepareCommit(nil, nil, detRand(15)); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Clone(); !errors.Is(err, ErrCommitPending) {
		t.Fatalf("Clone with a commit pending: %v, want ErrCommitPending", err)
	}
}

// TestLeafKeyCopyIsTheCallers: destroying the copy of the leaf key leaves
// the member's own usable, and the copy is the same key.
func TestLeafKeyCopyIsTheCallers(t *testing.T) {
	s := suite1(t)
	g := smallGroup(t, s, 3, 16)[2]
	c := g.LeafKeyCopy()
	want, err := g.LeafKey().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := c.Bytes(); err != nil || !bytes.Equal(got, want) {
		t.Fatal("the copy is another key")
	}
	c.Destroy()
	if _, err := g.LeafKey().Bytes(); err != nil {
		t.Fatal("destroying the copy destroyed the member's leaf key")
	}
}
