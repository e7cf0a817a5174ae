package secure

import (
	"fmt"
	"slices"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/keying"
)

// EpochKeys is one view's key material as the secure participant hands it
// to the view's stack (layers.Config.Keys): the epoch's secret tree, from
// which each member's message keys ratchet (RFC 9420 §9), and what a layer
// needs to use it. The stack releases it when the view ends, which erases
// the tree.
type EpochKeys struct {
	// Suite is the epoch's cipher suite.
	Suite *crypto.Suite
	// Epoch is the epoch number.
	Epoch uint64
	// Leaf is this member's leaf index in the tree.
	Leaf uint32
	// Leaves are the members' leaf indices, by rank in the view.
	Leaves []uint32
	// Tree is the epoch's secret tree; nil once released.
	Tree *keying.SecretTree
}

// Release implements layers.Keys: the secret tree is erased.
func (k *EpochKeys) Release() {
	if k.Tree != nil {
		k.Tree.Destroy()
		k.Tree = nil
	}
}

// epochKeys makes the stack's keys of an epoch just installed. The epoch
// hands its encryption secret to the secret tree and forgets it.
func (p *Participant) epochKeys(st *epochState) (*EpochKeys, error) {
	g := st.group
	t, err := g.Epoch().NewSecretTree(g.Tree().LeafCount())
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	return &EpochKeys{Suite: p.suite, Epoch: g.Epoch().Number(), Leaf: g.Index(), Leaves: slices.Clone(st.leaves), Tree: t}, nil
}
