package keying

import (
	"bytes"
	"maps"
	"slices"

	"github.com/conclave-go/conclave/crypto"
)

// Clone returns an independent copy of the member's state: the public
// tree, the private keys of the ratchet tree, the signing key, the group
// context, the transcript, the epoch's key schedule and the pending update
// keys. Whatever one of the two does (process a commit, commit, Destroy)
// leaves the other as it was. A member processes a commit on a clone when
// it may have to go back to the epoch it is in, as Marshal and Unmarshal
// would let it, at a fraction of their cost: no private key is parsed
// again (each key is a handle or copy of its own), no tree hash is
// recomputed.
//
// A clone holds the epoch's encryption secret if the original still does
// (no secret tree was made from the epoch yet): a caller must make the
// epoch's secret tree from one of the two only, or the two trees would
// hand out the same keys and nonces.
//
// A member with a commit pending (PrepareCommit) cannot be cloned
// (ErrCommitPending): the tree holds the commit's edit open.
func (g *Group) Clone() (*Group, error) {
	if g.prepared != nil {
		return nil, ErrCommitPending
	}
	c := &Group{
		suite:     g.suite,
		tree:      g.tree.Clone(),
		priv:      g.priv.handles(),
		sig:       g.sig.Clone(),
		gc:        cloneGroupContext(&g.gc),
		interim:   bytes.Clone(g.interim),
		epoch:     g.epoch.clone(),
		refreshed: slices.Clone(g.refreshed),
		pending:   make(map[string]*crypto.KEMPrivateKey, len(g.pending)),
	}
	for pub, k := range g.pending {
		c.pending[pub] = k.Clone()
	}
	return c, nil
}

// LeafKeyCopy returns a copy of this member's leaf HPKE private key
// (LeafKey) that is the caller's: destroying it leaves the Group's key
// usable. Nil if the member holds none.
func (g *Group) LeafKeyCopy() *crypto.KEMPrivateKey {
	k := g.LeafKey()
	if k == nil {
		return nil
	}
	return k.Clone()
}

// handles returns a copy of the state whose keys are handles of their
// own on the same keys (crypto.KEMPrivateKey.Clone): destroying keys in one leaves the
// other's usable.
func (p *PrivateKeys) handles() *PrivateKeys {
	c := &PrivateKeys{Leaf: p.Leaf, keys: maps.Clone(p.keys)}
	for x, k := range c.keys {
		c.keys[x] = k.Clone()
	}
	return c
}

// clone returns a copy of the epoch whose secrets are its own: destroying
// either zeroes only its own.
func (e *Epoch) clone() *Epoch {
	c := &Epoch{suite: e.suite, epoch: e.epoch}
	dst := c.secrets()
	for i, s := range e.secrets() {
		if *s != nil {
			*dst[i] = s.Clone()
		}
	}
	return c
}
