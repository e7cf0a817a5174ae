package secure

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"slices"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// Process implements membership.Participant: the committer takes its own
// commit; a survivor processes the commit on a copy of its state; a
// joiner joins from its welcome. Each checks the new epoch against next
// and every identity new to it with its own admission check.
func (p *Participant) Process(next membership.View, common, own []byte) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(common) == 0 {
		return nil, errors.New("secure: empty decision")
	}
	var pd *pending
	var err error
	switch c := p.commit; {
	case c != nil && c.next.ID == next.ID && bytes.Equal(common, c.decision.Common):
		pd = &pending{st: &epochState{view: next.Clone(), group: c.group, leaves: c.leaves}, own: true, conf: c.tag}
	case common[0] != decisionCommit:
		return nil, errors.New("secure: unknown decision")
	case p.survivor(next):
		pd, err = p.processCommit(next, common[1:])
	default:
		pd, err = p.join(next, own)
	}
	if err != nil {
		return nil, err
	}
	if old := p.pending[next.ID]; old != nil && !(old.own && pd.own) {
		// Processed again (this member's own commit is the same one:
		// dropping it would abandon it).
		p.drop(old)
	}
	p.pending[next.ID] = pd
	p.history.at(next.ID).confirmed = true
	return bytes.Clone(pd.conf), nil
}

// processCommit applies a commit to a copy of the installed epoch.
func (p *Participant) processCommit(next membership.View, body []byte) (*pending, error) {
	c, err := keying.ParseCommit(body)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	var leaves []uint32
	for _, x := range c.Extensions {
		if x.Type == keying.ExtensionTypeConclaveContext {
			cc, err := keying.ParseConclaveContext(x.Data)
			if err != nil {
				return nil, fmt.Errorf("secure: %w", err)
			}
			if leaves, err = p.leavesOf(cc, next); err != nil {
				return nil, err
			}
		}
	}
	if leaves == nil {
		return nil, errors.New("secure: the commit binds no view")
	}
	for r, e := range next.Members {
		if cr := p.cur.view.Rank(e); cr >= 0 && p.cur.leaves[cr] != leaves[r] {
			return nil, errors.New("secure: the commit moves a member to another leaf")
		}
	}
	// A commit of an earlier round that this member made, never
	// installed, is given up: the group takes no other change while it
	// is pending.
	p.abandonCommit()
	g, err := p.cur.group.Clone()
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	if err := g.Process(c); err != nil {
		g.Destroy()
		return nil, fmt.Errorf("secure: %w", err)
	}
	st := &epochState{view: next.Clone(), group: g, leaves: leaves}
	keepLeaves(st, p.cur)
	if err := p.checkTree(st, p.cur); err != nil {
		g.Destroy()
		return nil, err
	}
	return &pending{st: st, conf: confirmationTag(g)}, nil
}

// keepLeaves gives st the leaf nodes old decoded of the members whose leaf
// the commit left as it was (every one but the committer's, an updater's
// and the joiners'), so that checking and keying the epoch decode only the
// changed ones. A member at another leaf, or whose leaf's bytes differ,
// is decoded again from st's tree.
func keepLeaves(st, old *epochState) {
	t, ot := st.group.Tree(), old.group.Tree()
	for r, e := range st.view.Members {
		or := old.view.Rank(e)
		if or < 0 || old.leaves[or] != st.leaves[r] || !t.SameLeaf(ot, st.leaves[r]) {
			continue
		}
		if st.nodes == nil {
			st.nodes = make([]*keying.LeafNode, len(st.leaves))
		}
		st.nodes[r] = old.leaf(or)
	}
}

// join makes this member's state from its welcome.
func (p *Participant) join(next membership.View, own []byte) (*pending, error) {
	if len(own) == 0 {
		return nil, errors.New("secure: no welcome for this joiner")
	}
	wm, err := keying.ParseWelcome(own)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	for i, jk := range p.joining {
		g, err := keying.Join(p.suite, wm, jk.kp, jk.kps)
		if errors.Is(err, keying.ErrNotForMe) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("secure: %w", err)
		}
		p.joining = slices.Delete(p.joining, i, i+1) // its secrets are the group's now
		leaves, err := p.checkContext(g.Context(), next)
		if err == nil && !bytes.Equal(g.Context().GroupID, p.groupID) {
			err = errors.New("secure: the welcome is to a group of another name")
		}
		st := &epochState{view: next.Clone(), group: g, leaves: leaves}
		if err == nil {
			err = p.checkTree(st, nil)
		}
		if err != nil {
			g.Destroy()
			return nil, err
		}
		return &pending{st: st, conf: confirmationTag(g)}, nil
	}
	return nil, errors.New("secure: the welcome is for none of this member's key packages")
}

// Verify implements membership.Participant: a member's confirmation must
// be the confirmation tag of the commit, compared in constant time.
func (p *Participant) Verify(next membership.View, common []byte, member membership.Endpoint, confirmation []byte) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	var tag []byte
	switch c := p.commit; {
	case c != nil && c.next.ID == next.ID && bytes.Equal(common, c.decision.Common):
		tag = c.tag
	case p.verified.next == next.ID && bytes.Equal(common, p.verified.common):
		tag = p.verified.tag
	case len(common) > 0 && common[0] == decisionCommit:
		c, err := keying.ParseCommit(common[1:])
		if err != nil {
			return fmt.Errorf("secure: %w", err)
		}
		tag = c.ConfirmationTag
		p.verified = verified{next: next.ID, common: bytes.Clone(common), tag: tag}
	default:
		return errors.New("secure: unknown decision")
	}
	if len(tag) == 0 || subtle.ConstantTimeCompare(tag, confirmation) != 1 {
		return errors.New("secure: confirmation does not match the epoch")
	}
	return nil
}

// verified caches the tag of the last decision Verify parsed: it is asked
// once per member with the same decision.
type verified struct {
	next   membership.ViewID
	common []byte
	tag    []byte
}
