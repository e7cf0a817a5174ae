package keying

import (
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/conclave-go/conclave/crypto"
)

// ErrStaleDraw is returned for a path draw that does not belong to the
// group's current state: drawn by another group, in an earlier epoch, for
// another leaf, or used or destroyed already.
var ErrStaleDraw = errors.New("keying: path draw is not of this group's epoch and leaf")

// PathDraw is what a member's next commit draws for its update path,
// drawn ahead of the commit while the member has nothing else to do: the
// new leaf key pair, and a chain of path secrets from one random start,
// path_secret[k+1] = DeriveSecret(path_secret[k], "path"), each with its
// node key pair (RFC 9420 §7.4). None of it depends on the commit: the
// k-th secret of the chain goes to the k-th node of whatever filtered
// direct path the commit's proposals leave, and the secret after the last
// node's is the commit secret. A chain as long as the member's direct path
// in the current tree therefore serves any commit from this state; one
// whose proposals grow the tree past it is completed when it is used.
//
// A draw belongs to the group state, epoch and leaf it was drawn for, and
// serves one commit: PrepareCommitDrawn refuses it anywhere else
// (ErrStaleDraw) and empties it whatever the commit's outcome. Destroy
// erases a draw that will not be used. It never prints its secrets.
type PathDraw struct {
	g     *Group
	epoch uint64
	leaf  uint32
	// leafKey is the new leaf's key pair; secrets the chain of path
	// secrets from the first node's, one longer than keys, the node key
	// pairs of secrets[:len(keys)]. All nil once used or destroyed.
	leafKey *crypto.KEMPrivateKey
	secrets []crypto.Secret
	keys    []*crypto.KEMPrivateKey
}

// DrawPath draws ahead what this member's next commit from the current
// epoch takes for its path, reading rand as that commit would (the leaf
// key's seed, then the first path secret), so that a commit made with the
// draw is the one made with the same randomness. The chain has a node key
// pair for each parent on the member's direct path in the current tree.
func (g *Group) DrawPath(rand io.Reader) (*PathDraw, error) {
	if g.prepared != nil {
		return nil, ErrCommitPending
	}
	n := len(directPath(leafNode(g.priv.Leaf), g.tree.leaves))
	d, err := newPathDraw(g.suite, n, rand)
	if err != nil {
		return nil, err
	}
	d.g, d.epoch, d.leaf = g, g.gc.Epoch, g.priv.Leaf
	return d, nil
}

// PrepareCommitDrawn is PrepareCommit with its path taken from d (drawn by
// DrawPath on this group, in this epoch) instead of drawn from
// randomness; nothing else in a commit is random. A stale draw is refused
// (ErrStaleDraw). The draw is emptied, its secrets erased, whether the
// commit is made or not: it is never used twice.
func (g *Group) PrepareCommitDrawn(proposals []Proposal, exts []Extension, d *PathDraw) (*CommitResult, *PendingCommit, error) {
	defer d.Destroy()
	if !d.For(g) {
		return nil, nil, ErrStaleDraw
	}
	return g.prepare(proposals, exts, d, nil)
}

// For reports whether d can serve g's next commit: drawn by g in its
// current epoch for its leaf, and neither used nor destroyed.
func (d *PathDraw) For(g *Group) bool {
	return d != nil && d.leafKey != nil && g != nil && d.g == g && d.epoch == g.gc.Epoch && d.leaf == g.priv.Leaf
}

// Nodes is the number of node key pairs drawn: the longest filtered
// direct path the draw serves without deriving more.
func (d *PathDraw) Nodes() int { return len(d.keys) }

// Destroy erases the draw's secrets and keys. A used draw has none left.
func (d *PathDraw) Destroy() {
	if d == nil {
		return
	}
	if d.leafKey != nil {
		d.leafKey.Destroy()
	}
	for _, s := range d.secrets {
		s.Zero()
	}
	for _, k := range d.keys {
		k.Destroy()
	}
	d.g, d.leafKey, d.secrets, d.keys = nil, nil, nil, nil
}

// String describes the draw without any secret.
func (d *PathDraw) String() string {
	if d == nil {
		return "keying.PathDraw(nil)"
	}
	return fmt.Sprintf("keying.PathDraw{epoch %d, leaf %d, %d nodes, [secrets redacted]}", d.epoch, d.leaf, len(d.keys))
}

// GoString redacts as String does.
func (d *PathDraw) GoString() string { return d.String() }

// Format redacts for every verb.
func (d *PathDraw) Format(f fmt.State, verb rune) { fmt.Fprint(f, d.String()) }

// newPathDraw draws a leaf key pair and the first path secret from rand,
// in that order, and derives a chain of n node key pairs.
func newPathDraw(s *crypto.Suite, n int, rand io.Reader) (*PathDraw, error) {
	leafKey, err := s.GenerateKeyPair(rand)
	if err != nil {
		return nil, err
	}
	first := make(crypto.Secret, s.HashSize())
	if _, err := io.ReadFull(rand, first); err != nil {
		leafKey.Destroy()
		return nil, err
	}
	d := &PathDraw{leafKey: leafKey, secrets: []crypto.Secret{first}}
	if err := d.extend(s, n); err != nil {
		d.Destroy()
		return nil, err
	}
	return d, nil
}

// extend lengthens the chain to n node key pairs (and n+1 secrets). The
// key derivations are independent: they run side by side.
func (d *PathDraw) extend(s *crypto.Suite, n int) error {
	have := len(d.keys)
	if n <= have {
		return nil
	}
	for len(d.secrets) <= n {
		d.secrets = append(d.secrets, s.DeriveSecret(d.secrets[len(d.secrets)-1], "path"))
	}
	keys := make([]*crypto.KEMPrivateKey, n-have)
	if err := forEach(len(keys), func(k int) (err error) {
		keys[k], err = nodeKey(s, d.secrets[have+k])
		return err
	}); err != nil {
		for _, k := range keys {
			if k != nil {
				k.Destroy()
			}
		}
		return err
	}
	d.keys = append(d.keys, keys...)
	return nil
}

// take empties the draw into a path of n nodes: the leaf key pair, the n
// path secrets and their node key pairs, and the commit secret (the
// secret after the last node's). What the path does not need is erased;
// what it needs beyond the chain is derived. The caller owns the results.
// On error the draw is erased.
func (d *PathDraw) take(s *crypto.Suite, n int) (*crypto.KEMPrivateKey, []crypto.Secret, []*crypto.KEMPrivateKey, crypto.Secret, error) {
	if err := d.extend(s, n); err != nil {
		d.Destroy()
		return nil, nil, nil, nil, err
	}
	leafKey := d.leafKey
	secrets, keys, commit := slices.Clip(d.secrets[:n]), slices.Clip(d.keys[:n]), d.secrets[n]
	for _, x := range d.secrets[n+1:] {
		x.Zero()
	}
	for _, k := range d.keys[n:] {
		k.Destroy()
	}
	d.g, d.leafKey, d.secrets, d.keys = nil, nil, nil, nil
	return leafKey, secrets, keys, commit, nil
}
