package secure

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
)

// A view change is one commit of the group's ratchet tree (see the
// package doc). The decision's common part is the commit, preceded by its
// kind; each joiner's part is its welcome, which carries the ratchet tree.
//
//	common  kind byte: decisionCommit, then the commit (keying.Commit.Bytes)
//	        kind byte: decisionNew, alone: a new group (never sent)
const (
	decisionCommit byte = 1
	decisionNew    byte = 2
)

// keepJoinKeys bounds the key packages a joiner keeps: one per round it
// consented to, the newest replacing the oldest.
const keepJoinKeys = 4

// epochState is an epoch of the group as this member holds it, with the
// view it belongs to and each member's leaf.
type epochState struct {
	view   membership.View
	group  *keying.Group
	leaves []uint32 // by rank in view
	// nodes caches the members' leaf nodes, by rank, as leaf decodes
	// them: checking the epoch, its authenticator, the stack's keys and
	// the identities of the view each read every member's, and a tree
	// keeps its nodes encoded.
	nodes []*keying.LeafNode
	// ids caches the members' identities, by rank, as Describe names
	// them, with the credential bytes each was read from: most members
	// keep their leaf's credential from epoch to epoch, and inherit
	// takes theirs from the epoch before instead of parsing it again.
	ids []leafIdentity
}

// leafIdentity is a member's identity and the credential identity bytes
// it was parsed from (nil: not yet parsed).
type leafIdentity struct {
	cred []byte
	id   membership.Identity
}

// leaf returns the leaf node of the member of rank r (nil if its leaf is
// blank). Callers must not modify it.
func (st *epochState) leaf(r int) *keying.LeafNode {
	if st.nodes == nil {
		st.nodes = make([]*keying.LeafNode, len(st.leaves))
	}
	if st.nodes[r] == nil {
		st.nodes[r] = st.group.Tree().Leaf(st.leaves[r])
	}
	return st.nodes[r]
}

// identity returns the identity of the member of rank r, from its leaf's
// basic credential.
func (st *epochState) identity(r int) (membership.Identity, error) {
	if st.ids == nil {
		st.ids = make([]leafIdentity, len(st.leaves))
	}
	if li := &st.ids[r]; li.cred != nil {
		return li.id, nil
	}
	l := st.leaf(r)
	id, err := leafMemberIdentity(l)
	if err != nil {
		return membership.Identity{}, err
	}
	st.ids[r] = leafIdentity{cred: l.Credential.Identity, id: id}
	return id, nil
}

// inherit takes, for each member whose leaf is at the same index as in
// old and holds the same credential bytes, the identity old parsed from
// them: the identity is a function of those bytes alone. Only what old
// parsed is compared with; old's tree is not read, since an epoch of this
// member's own commit shares its group with the epoch before.
func (st *epochState) inherit(old *epochState) {
	if old == nil || old.ids == nil {
		return
	}
	if st.ids == nil {
		st.ids = make([]leafIdentity, len(st.leaves))
	}
	j := 0
	for r, leaf := range st.leaves {
		// The members keep their order from view to view: the old rank
		// of a leaf is most often the one after the last found.
		or := -1
		for k := range old.leaves {
			if i := (j + k) % len(old.leaves); old.leaves[i] == leaf {
				or = i
				break
			}
		}
		if or < 0 {
			continue
		}
		j = or + 1
		was := old.ids[or]
		if was.cred == nil {
			continue
		}
		if l := st.leaf(r); l != nil && l.Credential.Type == keying.CredentialBasic && bytes.Equal(l.Credential.Identity, was.cred) {
			st.ids[r] = leafIdentity{cred: l.Credential.Identity, id: was.id}
		}
	}
}

// pending is a processed decision of a view, not yet installed.
type pending struct {
	st   *epochState
	own  bool   // this member's own commit: st.group is p.cur's, advanced by Confirm
	conf []byte // the confirmation sent
}

// decided is this member's own decision of a round, kept until the round
// ends: the commit pending in its group, or a new group for a view alone.
type decided struct {
	next     membership.View
	decision membership.Decision
	pc       *keying.PendingCommit // nil for a new group
	group    *keying.Group         // the new group, or p.cur's
	leaves   []uint32
	tag      []byte // the new epoch's confirmation tag
}

// joinKey is a key package this member contributed as a joiner, with its
// secrets, kept for the welcome.
type joinKey struct {
	kp  *keying.KeyPackage
	kps *keying.KeyPackageSecrets
}

// destroy erases the key package's secrets, unused.
func (jk *joinKey) destroy() {
	jk.kps.DestroyInit()
	jk.kps.Leaf.Destroy()
	jk.kps.Signing.Destroy()
}

// Start implements membership.Participant.
func (p *Participant) Start(self membership.Endpoint) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.self = self
	p.selfBytes, _ = endpointBytes(self) // checked where used: a nil encoding matches no entry
}

// Admit implements membership.Participant: the configured admission check
// of the peer's authenticated identity.
func (p *Participant) Admit(peer membership.Endpoint, id membership.Identity) error {
	if err := p.cfg.Admit(fullIdentity(id.Provider, id.Name)); err != nil {
		return fmt.Errorf("secure: %v refused: %w", id, err)
	}
	return nil
}

// abandonCommit gives up this member's own decision of an earlier round.
func (p *Participant) abandonCommit() {
	c := p.commit
	if c == nil {
		return
	}
	p.commit = nil
	if pd := p.pending[c.next.ID]; pd != nil && pd.own {
		delete(p.pending, c.next.ID)
	}
	if c.pc != nil {
		c.pc.Abandon()
	} else if c.group != nil {
		c.group.Destroy()
	}
}

// drop forgets a processed decision.
func (p *Participant) drop(pd *pending) {
	if pd.own {
		p.abandonCommit()
		return
	}
	pd.st.group.Destroy()
}

// Discard implements membership.Participant: the processed epoch of next
// is dropped; the installed one stays as it was.
func (p *Participant) Discard(next membership.View) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pd := p.pending[next.ID]; pd != nil {
		delete(p.pending, next.ID)
		p.drop(pd)
	}
	if c := p.commit; c != nil && c.next.ID == next.ID {
		p.abandonCommit()
	}
	p.dropStaleDraw()
	p.retire()
}

// Install implements membership.Participant: the processed epoch of next
// becomes the installed one, the old one is erased, and the stack gets
// the new epoch's keys.
func (p *Participant) Install(next membership.View) (layers.Keys, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	pd := p.pending[next.ID]
	if pd == nil {
		return nil, errors.New("secure: installing a view whose decision was not processed")
	}
	delete(p.pending, next.ID)
	st := pd.st
	if pd.own {
		c := p.commit
		p.commit = nil
		if c.pc != nil {
			c.pc.Confirm()
		}
	}
	for id, o := range p.pending {
		delete(p.pending, id)
		p.drop(o)
	}
	p.abandonCommit()
	st.inherit(p.cur)
	if p.cur != nil && p.cur.group != st.group {
		p.cur.group.Destroy()
	}
	p.cur = st
	p.dropStaleDraw()
	for _, jk := range p.joining {
		jk.destroy()
	}
	p.joining = nil
	p.retire()
	if len(p.rosters.rosters) > 0 {
		// Encoded only when some roster waits: most views have none.
		members := make([][]byte, 0, len(next.Members))
		for _, e := range next.Members {
			if b, err := endpointBytes(e); err == nil {
				members = append(members, b)
			}
		}
		p.rosters.installed(members)
	}
	r := p.history.at(next.ID)
	r.installed, r.confirmed, r.epoch = true, true, st.group.Epoch().Number()
	r.digest = digestOf(st.group)
	k, err := p.epochKeys(st)
	if err != nil {
		return nil, err
	}
	return k, nil
}
