package secure

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/keying"
)

// EpochKeys is one view's key material as the secure participant hands it
// to the view's stack (layers.Config.Keys): the epoch's secret tree, from
// which each member's message keys ratchet (RFC 9420 §9), the members' leaf
// keys of the epoch's ratchet tree, and this member's private halves. The
// stack releases it when the view ends, which erases every secret in it.
//
// The private keys are copies: releasing them leaves the group state that
// the participant keeps for the next view change intact.
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

	// Rank is this member's rank in the view (Leaves[Rank] == Leaf).
	Rank int
	// SigningKey is this member's signature private key, whose public half
	// is its leaf's signature key; nil once released.
	SigningKey *crypto.SigningKey
	// SignatureKeys are the members' signature public keys (their leaves'),
	// by rank, in the suite's encoding.
	SignatureKeys [][]byte
	// LeafPrivateKey is this member's leaf HPKE private key of the epoch;
	// nil once released.
	LeafPrivateKey *crypto.KEMPrivateKey
	// LeafPublicKeys are the members' leaf HPKE public keys (their leaves'
	// encryption keys), by rank, serialised.
	LeafPublicKeys [][]byte
}

// Release implements layers.Keys: the secret tree and the private keys are
// erased.
func (k *EpochKeys) Release() {
	if k.Tree != nil {
		k.Tree.Destroy()
		k.Tree = nil
	}
	if k.SigningKey != nil {
		k.SigningKey.Destroy()
		k.SigningKey = nil
	}
	if k.LeafPrivateKey != nil {
		k.LeafPrivateKey.Destroy()
		k.LeafPrivateKey = nil
	}
}

// epochKeys makes the stack's keys of an epoch just installed. The epoch
// hands its encryption secret to the secret tree and forgets it.
func (p *Participant) epochKeys(st *epochState) (*EpochKeys, error) {
	g := st.group
	k := &EpochKeys{Suite: p.suite, Epoch: g.Epoch().Number(), Leaf: g.Index(), Leaves: slices.Clone(st.leaves), Rank: -1}
	// The members' public keys are copied into one buffer, each cut with
	// its capacity at its end: one allocation per view change, not two
	// per member.
	keys := make([][]byte, 2*len(k.Leaves))
	k.SignatureKeys, k.LeafPublicKeys = keys[:len(k.Leaves):len(k.Leaves)], keys[len(k.Leaves):]
	size := 0
	for r, leaf := range k.Leaves {
		l := st.leaf(r)
		if l == nil {
			return nil, fmt.Errorf("secure: rank %d has no leaf in the tree", r)
		}
		if leaf == k.Leaf {
			k.Rank = r
		}
		size += len(l.SignatureKey) + len(l.EncryptionKey)
	}
	buf := make([]byte, 0, size)
	for r := range k.Leaves {
		l := st.leaf(r)
		k.SignatureKeys[r], buf = appendCut(buf, l.SignatureKey)
		k.LeafPublicKeys[r], buf = appendCut(buf, l.EncryptionKey)
	}
	if k.Rank < 0 {
		return nil, errors.New("secure: this member's leaf is not in the view")
	}
	// Copies, since the stack erases them at the view's end and the group
	// state lives on into the next epoch.
	sig, err := p.signingKey()
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	k.SigningKey = sig
	if !bytes.Equal(sig.PublicKey(), k.SignatureKeys[k.Rank]) {
		k.Release()
		return nil, errors.New("secure: this member's leaf holds another signature key")
	}
	if k.LeafPrivateKey = g.LeafKeyCopy(); k.LeafPrivateKey == nil {
		k.Release()
		return nil, errors.New("secure: no leaf private key")
	}
	if k.Tree, err = g.Epoch().NewSecretTree(g.Tree().LeafCount()); err != nil {
		k.Release()
		return nil, fmt.Errorf("secure: %w", err)
	}
	return k, nil
}

// appendCut appends b to buf, which has the room for it, and returns the
// copy, its capacity cut at its end, and buf past it.
func appendCut(buf, b []byte) (cp, rest []byte) {
	n := len(buf)
	buf = append(buf, b...)
	return buf[n:len(buf):len(buf)], buf
}
