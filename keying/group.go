package keying

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/conclave-go/conclave/crypto"
)

// Errors of a member's group state.
var (
	ErrRemoved      = errors.New("keying: this member is removed by the commit")
	ErrWrongEpoch   = errors.New("keying: commit is for another epoch")
	ErrCommitter    = errors.New("keying: committer is not a member")
	ErrConfirmation = errors.New("keying: confirmation tag does not verify")
	ErrBadProposal  = errors.New("keying: proposal list is invalid")
)

// Group is one member's state of a group: the public ratchet tree, the
// member's leaf, private keys and signing key, the group context and the
// epoch's key schedule. Any member can commit (Commit); every other member
// processes the commit (Process); joiners start from a welcome (Join).
//
//	 joiner                     committer                    other members
//	NewKeyPackage ──kp──▶  Commit(adds, removes,
//	                           updates, extensions)
//	                        ├─ apply proposals to the tree
//	                        ├─ fresh path: path secrets, node keys,
//	                        │  parent hashes, signed leaf, HPKE to
//	                        │  each copath resolution
//	                        ├─ transcript, key schedule,
//	                        │  confirmation tag
//	Join ◀──welcome──────── └─ welcome per joiner ──commit──▶  Process
//	(tree validated,             (next epoch)                 (next epoch)
//	 path keys derived)
//
// A member removed by a commit gets ErrRemoved from Process and should
// Destroy its state. Every method leaves the state unchanged when it
// fails. A successful Commit advances the committer at once: a committer
// whose view change may be abandoned uses PrepareCommit and confirms or
// abandons the commit when the view change ends.
//
// Only a committer's own path is refreshed by its commit. If one member
// always committed, the other parents would stay blank and every commit
// would cost an encryption per member, so the group layer should rotate
// committers: OldestPath says whose path is oldest, CommitCost what a
// commit by a given member would cost before it is made.
//
// A Group is not safe for concurrent use. It never prints its secrets.
type Group struct {
	suite   *crypto.Suite
	tree    *Tree
	priv    *PrivateKeys
	sig     *crypto.SigningKey
	gc      GroupContext
	interim []byte
	epoch   *Epoch
	// refreshed[i] is the epoch in which leaf i's path was last set by its
	// own commit, or in which it joined; every member tracks the same.
	refreshed []uint64
	// pending holds the leaf keys of this member's update proposals not yet
	// committed, by public key.
	pending map[string]*crypto.KEMPrivateKey
	// prepared is a commit made by this member awaiting Confirm or Abandon;
	// the tree holds its edit open meanwhile.
	prepared *PendingCommit
}

// NewGroup creates a group of one member, epoch 0 (RFC 9420 §11), from the
// member's key package and its secrets. The init secret is drawn from rand.
func NewGroup(s *crypto.Suite, groupID []byte, kp *KeyPackage, kps *KeyPackageSecrets, exts []Extension, rand io.Reader) (*Group, error) {
	if err := kp.Verify(s); err != nil {
		return nil, err
	}
	t := NewTree(s)
	if _, err := t.AddLeaf(kp.Leaf); err != nil {
		return nil, err
	}
	if exts == nil {
		exts = []Extension{}
	}
	g := &Group{
		suite:     s,
		tree:      t,
		priv:      NewPrivateKeys(0, kps.Leaf),
		sig:       kps.Signing,
		gc:        GroupContext{Suite: s.ID(), GroupID: bytes.Clone(groupID), Epoch: 0, TreeHash: t.TreeHash(), ConfirmedTranscriptHash: []byte{}, Extensions: exts},
		interim:   []byte{},
		refreshed: []uint64{0},
		pending:   map[string]*crypto.KEMPrivateKey{},
	}
	kps.DestroyInit()
	initSecret, err := NewInitSecret(s, rand)
	if err != nil {
		return nil, err
	}
	defer initSecret.Zero()
	if g.epoch, err = NewEpoch(s, initSecret, nil, nil, &g.gc); err != nil {
		return nil, err
	}
	return g, nil
}

// Suite is the group's cipher suite.
func (g *Group) Suite() *crypto.Suite { return g.suite }

// Tree is the public ratchet tree. Callers must not modify it.
func (g *Group) Tree() *Tree { return g.tree }

// Index is this member's leaf index.
func (g *Group) Index() uint32 { return g.priv.Leaf }

// LeafKey is this member's leaf HPKE private key, the one whose public half
// is its leaf's encryption key in the current tree. It stays the Group's:
// callers must not destroy it, and copy it to keep it past the epoch.
func (g *Group) LeafKey() *crypto.KEMPrivateKey { return g.priv.Key(leafNode(g.priv.Leaf)) }

// Epoch is the current epoch's key schedule. It stays the Group's:
// callers must not destroy it.
func (g *Group) Epoch() *Epoch { return g.epoch }

// Context is the current group context. Callers must not modify it.
func (g *Group) Context() *GroupContext { return &g.gc }

// Members lists the occupied leaves.
func (g *Group) Members() []uint32 { return g.tree.Members() }

// Refreshed returns the epoch in which leaf i's path was last refreshed by
// its own commit (or it joined).
func (g *Group) Refreshed(i uint32) uint64 {
	if i >= uint32(len(g.refreshed)) {
		return 0
	}
	return g.refreshed[i]
}

// OldestPath returns the member whose path was refreshed longest ago,
// the lowest leaf index among equals: the member that should commit next
// so that paths are refreshed in turn and commits stay cheap.
func (g *Group) OldestPath() uint32 {
	best, found := uint32(0), false
	for i := uint32(0); i < g.tree.leaves; i++ {
		if g.tree.Occupied(i) && (!found || g.refreshed[i] < g.refreshed[best]) {
			best, found = i, true
		}
	}
	return best
}

// CommitCost is the number of HPKE encryptions a commit of proposals by
// member committer would take: the sizes of the copath resolutions along
// its filtered direct path after the proposals apply, joiners left out
// (they are reached through their welcome, one more encryption each,
// counted here too). It changes nothing.
func (g *Group) CommitCost(committer uint32, proposals []Proposal) (int, error) {
	if g.prepared != nil {
		return 0, ErrCommitPending
	}
	t := g.tree
	t.begin()
	defer t.rollback()
	joiners, err := t.applyProposals(g.suite, g.gc.GroupID, committer, proposals)
	if err != nil {
		return 0, err
	}
	_, cop := t.filteredDirectPath(committer)
	n := len(joiners)
	for _, c := range cop {
		for _, x := range t.Resolution(c) {
			if !(isLeaf(x) && containsUint32(joiners, nodeLeaf(x))) {
				n++
			}
		}
	}
	return n, nil
}

// ProposeUpdate makes an update proposal for this member: a fresh leaf key
// in a leaf node signed for its position. The private key waits until a
// commit carrying the proposal is processed.
func (g *Group) ProposeUpdate(rand io.Reader) (Proposal, error) {
	if g.prepared != nil {
		return Proposal{}, ErrCommitPending
	}
	k, err := g.suite.GenerateKeyPair(rand)
	if err != nil {
		return Proposal{}, err
	}
	l := g.tree.Leaf(g.priv.Leaf)
	l.EncryptionKey = bytes.Clone(k.PublicKey().Bytes())
	l.Source = SourceUpdate
	l.Lifetime = Lifetime{}
	l.ParentHash = nil
	if err := l.Sign(g.suite, g.sig, g.gc.GroupID, g.priv.Leaf); err != nil {
		k.Destroy()
		return Proposal{}, err
	}
	g.pending[string(l.EncryptionKey)] = k
	return Proposal{Type: ProposalUpdate, Leaf: l, Sender: g.priv.Leaf}, nil
}

// Destroy zeros and drops every secret the member holds.
func (g *Group) Destroy() {
	if g.prepared != nil {
		g.prepared.Abandon()
	}
	g.priv.Destroy()
	if g.epoch != nil {
		g.epoch.Destroy()
	}
	for k, key := range g.pending {
		key.Destroy()
		delete(g.pending, k)
	}
	if g.sig != nil {
		g.sig.Destroy()
	}
}

// String describes the member without any secret.
func (g *Group) String() string {
	return fmt.Sprintf("keying.Group{suite %v, epoch %d, leaf %d, [secrets redacted]}", g.suite, g.gc.Epoch, g.priv.Leaf)
}

// GoString redacts as String does.
func (g *Group) GoString() string { return g.String() }

// Format redacts for every verb.
func (g *Group) Format(f fmt.State, verb rune) { fmt.Fprint(f, g.String()) }
