package secure

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// Decider implements membership.Participant: the member staying whose
// path in the tree is oldest (the lowest leaf among equals), so that each
// member's path is refreshed in turn and commits stay O(log n). Every
// member holding the tree would name the same.
func (p *Participant) Decider(cur, next membership.View) membership.Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.decider(cur, next)
}

// decider is Decider under the participant's lock.
func (p *Participant) decider(cur, next membership.View) membership.Endpoint {
	if p.cur == nil || p.cur.view.ID != cur.ID {
		return membership.Endpoint{}
	}
	g := p.cur.group
	best, bestLeaf, bestAge := membership.Endpoint{}, uint32(0), uint64(0)
	for r, e := range cur.Members {
		if !next.Has(e) || r >= len(p.cur.leaves) {
			continue
		}
		l := p.cur.leaves[r]
		a := g.Refreshed(l)
		if best.IsZero() || a < bestAge || a == bestAge && l < bestLeaf {
			best, bestLeaf, bestAge = e, l, a
		}
	}
	return best
}

// Decide implements membership.Participant: the commit of next from the
// epoch of cur, with a welcome for each joiner; for a view alone, a commit
// removing everyone else, or a new group if this member holds no epoch.
func (p *Participant) Decide(cur, next membership.View, contributions map[membership.Endpoint][]byte, joiners map[membership.Endpoint]membership.Identity) (membership.Decision, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c := p.commit; c != nil && c.next.ID == next.ID && slices.Equal(c.next.Members, next.Members) {
		// Asked again for the same round (a decision made early, then
		// asked for in its phase): the same decision.
		return c.decision, nil
	}
	p.abandonCommit()
	if p.alone(next) && (p.cur == nil || p.cur.view.ID != cur.ID) {
		return p.decideNew(next)
	}
	if p.cur == nil || p.cur.view.ID != cur.ID {
		return membership.Decision{}, errors.New("secure: this member holds no epoch of the current view")
	}
	return p.decideCommit(cur, next, contributions, joiners)
}

// decideNew makes a new group of this member alone.
func (p *Participant) decideNew(next membership.View) (membership.Decision, error) {
	ext, err := p.contextExtension(next, []uint32{0})
	if err != nil {
		return membership.Decision{}, err
	}
	kp, kps, err := p.newKeyPackage()
	if err != nil {
		return membership.Decision{}, err
	}
	g, err := keying.NewGroup(p.suite, p.groupID, kp, kps, []keying.Extension{ext}, p.cfg.Rand)
	if err != nil {
		kps.DestroyInit()
		kps.Leaf.Destroy()
		kps.Signing.Destroy()
		return membership.Decision{}, fmt.Errorf("secure: %w", err)
	}
	d := membership.Decision{Common: []byte{decisionNew}}
	p.commit = &decided{next: next.Clone(), decision: d, group: g, leaves: []uint32{0}, tag: confirmationTag(g)}
	return d, nil
}

// decideCommit commits next from the installed epoch.
func (p *Participant) decideCommit(cur, next membership.View, contributions map[membership.Endpoint][]byte, joiners map[membership.Endpoint]membership.Identity) (membership.Decision, error) {
	st := p.cur
	var proposals []keying.Proposal
	var removed []uint32
	for r, e := range cur.Members {
		if !next.Has(e) {
			removed = append(removed, st.leaves[r])
			proposals = append(proposals, keying.Proposal{Type: keying.ProposalRemove, Removed: st.leaves[r]})
		}
	}
	var newcomers []membership.Endpoint
	var adds []*keying.KeyPackage
	var roster []rosterEntry
	// A joiner this member cannot accept is its own fault, not this
	// member's: every such joiner is named (membership.JoinerError), so
	// that the round is retried without them alone.
	var refused []membership.Endpoint
	var refusal error
	for _, e := range next.Members {
		if cur.Has(e) {
			continue
		}
		if roster == nil {
			var err error
			if roster, err = coordinatorRosters(contributions[next.ID.Coord]); err != nil {
				return membership.Decision{}, err
			}
		}
		kp, err := p.checkJoiner(e, roster, contributions[e], joiners[e])
		if err != nil {
			refused, refusal = append(refused, e), cmp.Or(refusal, err)
			continue
		}
		newcomers = append(newcomers, e)
		adds = append(adds, kp)
		proposals = append(proposals, keying.Proposal{Type: keying.ProposalAdd, KeyPackage: kp})
	}
	if refused != nil {
		return membership.Decision{}, &membership.JoinerError{Joiners: refused, Err: refusal}
	}
	// The leaves the joiners will take: the commit applies its removes,
	// then its adds, each into the leftmost blank leaf.
	t := st.group.Tree().Clone()
	for _, l := range removed {
		if err := t.RemoveLeaf(l); err != nil {
			return membership.Decision{}, fmt.Errorf("secure: %w", err)
		}
	}
	added := make(map[membership.Endpoint]uint32, len(adds))
	for i, kp := range adds {
		l, err := t.AddLeaf(kp.Leaf)
		if err != nil {
			return membership.Decision{}, fmt.Errorf("secure: %w", err)
		}
		added[newcomers[i]] = l
	}
	leaves := make([]uint32, len(next.Members))
	for r, e := range next.Members {
		if cr := cur.Rank(e); cr >= 0 {
			leaves[r] = st.leaves[cr]
		} else {
			leaves[r] = added[e]
		}
	}
	ext, err := p.contextExtension(next, leaves)
	if err != nil {
		return membership.Decision{}, err
	}
	for r := range st.leaves {
		// Read before the commit writes the next view's leaves into
		// the tree, which stay there until it is confirmed or
		// abandoned: st's own view keeps its members' leaves.
		st.leaf(r)
	}
	// The path drawn ahead while the group was at rest (idle.go), if
	// it is of this epoch and leaf.
	res, pc, err := p.prepareCommit(st.group, proposals, []keying.Extension{ext})
	if err != nil {
		return membership.Decision{}, fmt.Errorf("secure: commit: %w", err)
	}
	d, err := decisionOf(res, newcomers)
	if err != nil {
		pc.Abandon()
		return membership.Decision{}, err
	}
	p.commit = &decided{next: next.Clone(), decision: d, pc: pc, group: st.group, leaves: leaves, tag: res.Commit.ConfirmationTag}
	p.seals, p.lastCommit = res.Seals, next.ID
	return d, nil
}

// coordinatorRosters parses the coordinator's contribution: the roster
// entries of the round's joiners it admitted. An empty one vouches for
// no one, which is not malformed: each joiner then fails for want of an
// entry, by name.
func coordinatorRosters(b []byte) ([]rosterEntry, error) {
	if len(b) == 0 {
		return []rosterEntry{}, nil
	}
	roster, err := parseRoster(b)
	if err != nil {
		return nil, fmt.Errorf("secure: the coordinator's rosters: %w", err)
	}
	return roster, nil
}

// decisionOf encodes a commit and its welcomes as a decision, within
// membership's bounds. With suite 0x0001 and Noise identities a leaf takes
// about 260 bytes of the ratchet tree that every welcome carries, so one
// welcome (MaxDecisionPart, 1 MiB) holds a tree of about 4000 members,
// and the whole decision (MaxDecision, 4 MiB) about 16000 leaves over all
// the joiners' welcomes: one joiner into 4000 members, 16 joiners into
// 1000. A commit is about 2 KB at 16 members (a key package per joiner,
// an encrypted path secret per copath node).
func decisionOf(res *keying.CommitResult, joiners []membership.Endpoint) (membership.Decision, error) {
	cb, err := res.Commit.Bytes()
	if err != nil {
		return membership.Decision{}, fmt.Errorf("secure: %w", err)
	}
	d := membership.Decision{Common: append([]byte{decisionCommit}, cb...), Parts: make(map[membership.Endpoint][]byte, len(joiners))}
	if len(res.Welcomes) != len(joiners) {
		return membership.Decision{}, errors.New("secure: a welcome per joiner expected")
	}
	for i, e := range joiners {
		wb, err := res.Welcomes[i].Bytes()
		if err != nil {
			return membership.Decision{}, fmt.Errorf("secure: %w", err)
		}
		d.Parts[e] = wb
	}
	if len(d.Common) > membership.MaxDecisionPart || d.Size() > membership.MaxDecision {
		return membership.Decision{}, errors.New("secure: the commit and its welcomes exceed a decision's bounds")
	}
	for _, b := range d.Parts {
		if len(b) > membership.MaxDecisionPart {
			return membership.Decision{}, errors.New("secure: a welcome exceeds a decision part's bound")
		}
	}
	return d, nil
}

// checkJoiner checks joiner e's key package against its roster entry (the
// signature key and identity its admitted coordinator vouched for), the
// identity membership's handshake established, and the admission check.
func (p *Participant) checkJoiner(e membership.Endpoint, roster []rosterEntry, contribution []byte, hs membership.Identity) (*keying.KeyPackage, error) {
	eb, err := endpointBytes(e)
	if err != nil {
		return nil, err
	}
	entry, ok := findEntry(roster, eb)
	if !ok {
		return nil, fmt.Errorf("secure: joiner %v has no roster entry", e)
	}
	if !hs.IsZero() && (hs.Provider != entry.identity.Provider || hs.Name != entry.identity.Name) {
		return nil, fmt.Errorf("secure: joiner %v: roster and handshake name different identities", e)
	}
	kp, err := keying.ParseKeyPackage(contribution)
	if err == nil {
		err = kp.Verify(p.suite)
	}
	if err != nil {
		return nil, fmt.Errorf("secure: joiner %v: key package: %w", e, err)
	}
	id, err := credentialIdentity(kp.Leaf)
	if err != nil || id.Provider != entry.identity.Provider || id.Name != entry.identity.Name || !bytes.Equal(kp.Leaf.SignatureKey, entry.sigKey) {
		return nil, fmt.Errorf("secure: joiner %v: key package does not match its roster entry", e)
	}
	if err := p.cfg.Admit(entry.identity); err != nil {
		return nil, fmt.Errorf("secure: joiner %v (%v) refused: %w", e, entry.identity, err)
	}
	return kp, nil
}
