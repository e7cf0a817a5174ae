package keying

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// drawnPublics returns the public keys of a draw: its leaf's, then its
// nodes' in chain order.
func drawnPublics(d *PathDraw) (leaf []byte, nodes [][]byte) {
	for _, k := range d.keys {
		nodes = append(nodes, bytes.Clone(k.PublicKey().Bytes()))
	}
	return bytes.Clone(d.leafKey.PublicKey().Bytes()), nodes
}

// drawnSecrets returns the draw's secrets themselves (not copies), to see
// that they are erased.
func drawnSecrets(d *PathDraw) []crypto.Secret { return append([]crypto.Secret(nil), d.secrets...) }

func allZero(ss []crypto.Secret) bool {
	for _, s := range ss {
		for _, b := range s {
			if b != 0 {
				return false
			}
		}
	}
	return true
}

// processAll has every member but c process commit res and checks that
// they all reach c's epoch.
func processAll(t *testing.T, gs []*Group, c int, res *CommitResult) {
	t.Helper()
	for i, g := range gs {
		if i == c {
			continue
		}
		if err := g.Process(res.Commit); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if !bytes.Equal(g.Epoch().EpochAuthenticator(), gs[c].Epoch().EpochAuthenticator()) {
			t.Fatalf("member %d's epoch differs from the committer's", i)
		}
	}
}

// TestCommitWithDrawIsTheCommitOfItsRandomness: a commit made with a path
// drawn ahead carries the draw's keys, and is the commit the same
// randomness would have given (the same leaf and node keys, the same
// parent hashes and tree); the other members process it.
func TestCommitWithDrawIsTheCommitOfItsRandomness(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 5, 60)
	twin, err := gs[2].Clone()
	if err != nil {
		t.Fatal(err)
	}
	d, err := gs[2].DrawPath(detRand(61))
	if err != nil {
		t.Fatal(err)
	}
	if d.Nodes() != 3 {
		t.Fatalf("a draw of %d nodes in a tree of 8 leaves, want 3", d.Nodes())
	}
	leafPub, nodePubs := drawnPublics(d)
	secrets := drawnSecrets(d)
	// The remove empties the right half: a path of 2 nodes, one secret
	// of the chain unused.
	props := []Proposal{{Type: ProposalRemove, Removed: 4}}
	res, p, err := gs[2].PrepareCommitDrawn(props, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Commit.Path.Nodes) != 2 {
		t.Fatalf("a path of %d nodes, want 2", len(res.Commit.Path.Nodes))
	}
	if !allZero(secrets) {
		t.Fatal("the draw's secrets outlive the commit")
	}
	want, wp, err := twin.PrepareCommit(props, nil, detRand(61))
	if err != nil {
		t.Fatal(err)
	}
	wp.Abandon()
	up := res.Commit.Path
	if !bytes.Equal(up.Leaf.EncryptionKey, leafPub) {
		t.Fatal("the commit's leaf key is not the draw's")
	}
	for k := range up.Nodes {
		if !bytes.Equal(up.Nodes[k].EncryptionKey, nodePubs[k]) {
			t.Fatalf("node %d's key is not the draw's %d-th", k, k)
		}
		if !bytes.Equal(up.Nodes[k].EncryptionKey, want.Commit.Path.Nodes[k].EncryptionKey) {
			t.Fatalf("node %d's key differs from the one the same randomness gives", k)
		}
	}
	if !bytes.Equal(up.Leaf.EncryptionKey, want.Commit.Path.Leaf.EncryptionKey) || !bytes.Equal(up.Leaf.ParentHash, want.Commit.Path.Leaf.ParentHash) {
		t.Fatal("the leaf differs from the one the same randomness gives")
	}
	p.Confirm()
	processAll(t, gs[:4], 2, res)
}

// TestPathDrawUsedOnce: a draw serves one commit, made or not; every
// secret of it is erased once used, and a used draw is refused.
func TestPathDrawUsedOnce(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 62)
	d, err := gs[1].DrawPath(detRand(63))
	if err != nil {
		t.Fatal(err)
	}
	secrets := drawnSecrets(d)
	if allZero(secrets) || !d.For(gs[1]) {
		t.Fatal("a fresh draw is empty or refused")
	}
	_, p, err := gs[1].PrepareCommitDrawn(nil, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	if d.For(gs[1]) || !allZero(secrets) {
		t.Fatal("a used draw kept its secrets")
	}
	p.Abandon()
	if _, _, err := gs[1].PrepareCommitDrawn(nil, nil, d); !errors.Is(err, ErrStaleDraw) {
		t.Fatalf("a used draw used again: %v", err)
	}

	// A commit that fails uses the draw up all the same.
	d, err = gs[1].DrawPath(detRand(64))
	if err != nil {
		t.Fatal(err)
	}
	secrets = drawnSecrets(d)
	bad := []Proposal{{Type: ProposalRemove, Removed: 1}} // the committer itself
	if _, _, err := gs[1].PrepareCommitDrawn(bad, nil, d); err == nil {
		t.Fatal("a commit removing its committer was made")
	}
	if d.For(gs[1]) || !allZero(secrets) {
		t.Fatal("a draw kept its secrets after a failed commit")
	}

	// Destroy erases a draw never used.
	d, err = gs[1].DrawPath(detRand(65))
	if err != nil {
		t.Fatal(err)
	}
	secrets = drawnSecrets(d)
	d.Destroy()
	if d.For(gs[1]) || !allZero(secrets) {
		t.Fatal("Destroy left the draw's secrets")
	}
	// Nothing of it prints.
	if s := fmt.Sprintf("%v %+v %#v %s", d, d, d, d); bytes.Contains([]byte(s), []byte("0x")) {
		t.Fatalf("a draw prints as %q", s)
	}
}

// TestPathDrawStale: a draw serves only the group state, epoch and leaf it
// was drawn for; any other is refused and the group left as it was.
func TestPathDrawStale(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 4, 66)
	d, err := gs[1].DrawPath(detRand(67))
	if err != nil {
		t.Fatal(err)
	}
	twin, err := gs[1].Clone()
	if err != nil {
		t.Fatal(err)
	}
	if d.For(twin) {
		t.Fatal("a draw serves another group state")
	}
	if _, _, err := twin.PrepareCommitDrawn(nil, nil, d); !errors.Is(err, ErrStaleDraw) {
		t.Fatalf("another group state's draw: %v", err)
	}

	d, err = gs[1].DrawPath(detRand(68))
	if err != nil {
		t.Fatal(err)
	}
	secrets := drawnSecrets(d)
	commitAndProcess(t, gs, 0, nil, detRand(69)) // gs[1] moves to the next epoch
	if d.For(gs[1]) {
		t.Fatal("a draw serves the next epoch")
	}
	if _, _, err := gs[1].PrepareCommitDrawn(nil, nil, d); !errors.Is(err, ErrStaleDraw) {
		t.Fatalf("an earlier epoch's draw: %v", err)
	}
	if !allZero(secrets) {
		t.Fatal("a refused draw kept its secrets")
	}
	// The group is as it was: it commits, and the others follow.
	commitAndProcess(t, gs, 1, nil, detRand(70))
}

// TestPathDrawCompleted: a draw shorter than the commit's path (adds grow
// the tree) serves its first nodes, and the rest of the chain is derived
// from it; the joiners and the other members reach the committer's epoch.
func TestPathDrawCompleted(t *testing.T) {
	s := suite1(t)
	gs := smallGroup(t, s, 2, 71)
	d, err := gs[0].DrawPath(detRand(72))
	if err != nil {
		t.Fatal(err)
	}
	if d.Nodes() != 1 {
		t.Fatalf("a draw of %d nodes in a tree of 2 leaves, want 1", d.Nodes())
	}
	leafPub, nodePubs := drawnPublics(d)
	r := detRand(73)
	var props []Proposal
	var kps []*KeyPackageSecrets
	for i := range 3 {
		sig, err := s.GenerateSigningKey(r)
		if err != nil {
			t.Fatal(err)
		}
		kp, kpsec, err := NewKeyPackage(s, []byte(fmt.Sprintf("j%d", i)), sig, Lifetime{0, 1 << 40}, r)
		if err != nil {
			t.Fatal(err)
		}
		props = append(props, Proposal{Type: ProposalAdd, KeyPackage: kp})
		kps = append(kps, kpsec)
	}
	res, p, err := gs[0].PrepareCommitDrawn(props, nil, d)
	if err != nil {
		t.Fatal(err)
	}
	p.Confirm()
	up := res.Commit.Path
	if len(up.Nodes) != 3 {
		t.Fatalf("a path of %d nodes in a tree of 8 leaves, want 3", len(up.Nodes))
	}
	if !bytes.Equal(up.Leaf.EncryptionKey, leafPub) || !bytes.Equal(up.Nodes[0].EncryptionKey, nodePubs[0]) {
		t.Fatal("the path's first keys are not the draw's")
	}
	processAll(t, gs, 0, res)
	for i, w := range res.Welcomes {
		j, err := Join(s, w, props[i].KeyPackage, kps[i])
		if err != nil {
			t.Fatalf("joiner %d: %v", i, err)
		}
		if !bytes.Equal(j.Epoch().EpochAuthenticator(), gs[0].Epoch().EpochAuthenticator()) {
			t.Fatalf("joiner %d's epoch differs from the committer's", i)
		}
	}
}

// BenchmarkPrepareCommit16 measures a commit's preparation at 16 members
// in steady state (every member committed once, in turn), with its path
// drawn then (fresh) or ahead (drawn, the draw untimed), and the draw
// alone (draw): what drawing ahead takes off a view change's critical
// path. Run it with GOMAXPROCS=1 to see the whole of the work.
func BenchmarkPrepareCommit16(b *testing.B) {
	s := suite1(b)
	gs := smallGroup(b, s, 16, 80)
	r := detRand(81)
	for range 16 {
		commitAndProcess(b, gs, int(gs[0].OldestPath()), nil, r)
	}
	g := gs[gs[0].OldestPath()]
	b.Run("draw", func(b *testing.B) {
		// What drawing ahead moves off the commit: the draw alone.
		for b.Loop() {
			d, err := g.DrawPath(r)
			if err != nil {
				b.Fatal(err)
			}
			d.Destroy()
		}
	})
	for _, mode := range []string{"fresh", "drawn"} {
		b.Run(mode, func(b *testing.B) {
			for b.Loop() {
				var p *PendingCommit
				var err error
				if mode == "drawn" {
					b.StopTimer()
					d, derr := g.DrawPath(r)
					if derr != nil {
						b.Fatal(derr)
					}
					b.StartTimer()
					_, p, err = g.PrepareCommitDrawn(nil, nil, d)
				} else {
					_, p, err = g.PrepareCommit(nil, nil, r)
				}
				if err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				p.Abandon()
				b.StartTimer()
			}
		})
	}
}
