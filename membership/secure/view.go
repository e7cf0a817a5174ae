package secure

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/conclave-go/conclave/crypto"
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

// signingKey returns a copy of this member's signature key, for a group
// state that will erase it when destroyed.
func (p *Participant) signingKey() (*crypto.SigningKey, error) {
	b, err := p.sig.Bytes()
	if err != nil {
		return nil, err
	}
	defer b.Zero()
	return p.suite.ParseSigningKey(b)
}

// newKeyPackage makes a key package of this member: fresh leaf and init
// keys, its signature key and its identity.
func (p *Participant) newKeyPackage() (*keying.KeyPackage, *keying.KeyPackageSecrets, error) {
	id, err := identityBytes(p.id.Provider, p.id.Name)
	if err != nil {
		return nil, nil, err
	}
	sig, err := p.signingKey()
	if err != nil {
		return nil, nil, err
	}
	kp, kps, err := keying.NewKeyPackage(p.suite, id, sig, keying.Lifetime{NotAfter: math.MaxUint64}, p.cfg.Rand)
	if err != nil {
		sig.Destroy()
		return nil, nil, err
	}
	return kp, kps, nil
}

// alone reports whether next is a view of this member alone.
func (p *Participant) alone(next membership.View) bool {
	return len(next.Members) == 1 && next.Members[0] == p.self
}

// survivor reports whether this member takes part in the round of next
// from the epoch of the view it has installed: the round's coordinator is
// a member of that view, whose epoch this member holds. Anyone else
// (alone, or in a view being absorbed) enters as a joiner.
func (p *Participant) survivor(next membership.View) bool {
	return p.cur != nil && p.cur.view.ID == p.view.ID && p.view.Has(next.ID.Coord) && p.view.Has(p.self)
}

// Contribute implements membership.Participant: a joiner's key package,
// the rosters of the joiners at the round's coordinator, nothing from
// anyone else.
func (p *Participant) Contribute(next membership.View) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.alone(next):
		return nil
	case !p.survivor(next):
		kp, kps, err := p.newKeyPackage()
		var b []byte
		if err == nil {
			b, err = kp.Bytes()
		}
		if err != nil {
			p.cfg.Logger.Warn("no key package to join with", "self", p.self, "view", next.ID, "err", err)
			return nil
		}
		if len(p.joining) >= keepJoinKeys {
			p.joining[0].kps.DestroyInit()
			p.joining[0].kps.Leaf.Destroy()
			p.joining = p.joining[1:]
		}
		p.joining = append(p.joining, &joinKey{kp: kp, kps: kps})
		return b
	case next.ID.Coord == p.self:
		var entries []rosterEntry
		for _, e := range next.Members {
			if p.view.Has(e) {
				continue
			}
			eb, err := endpointBytes(e)
			if err != nil {
				continue
			}
			if en, ok := p.rosters.entry(eb); ok {
				entries = append(entries, en)
			}
		}
		if len(entries) == 0 {
			return nil
		}
		b, err := appendRoster(nil, entries)
		if err != nil || len(b) > membership.MaxContribution {
			p.cfg.Logger.Warn("the joiners' rosters do not fit a contribution", "self", p.self, "view", next.ID, "joiners", len(entries))
			return nil
		}
		return b
	}
	return nil
}

// Decider implements membership.Participant: the member staying whose
// path in the tree is oldest (the lowest leaf among equals), so that each
// member's path is refreshed in turn and commits stay O(log n). Every
// member holding the tree would name the same.
func (p *Participant) Decider(cur, next membership.View) membership.Endpoint {
	p.mu.Lock()
	defer p.mu.Unlock()
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
	for _, e := range next.Members {
		if cur.Has(e) {
			continue
		}
		if roster == nil {
			var err error
			if roster, err = parseRoster(contributions[next.ID.Coord]); err != nil {
				return membership.Decision{}, fmt.Errorf("secure: the coordinator's rosters: %w", err)
			}
		}
		kp, err := p.checkJoiner(e, roster, contributions[e], joiners[e])
		if err != nil {
			return membership.Decision{}, err
		}
		newcomers = append(newcomers, e)
		adds = append(adds, kp)
		proposals = append(proposals, keying.Proposal{Type: keying.ProposalAdd, KeyPackage: kp})
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
	res, pc, err := st.group.PrepareCommit(proposals, []keying.Extension{ext}, p.cfg.Rand)
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

// decisionOf encodes a commit and its welcomes as a decision, within
// membership's bounds.
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

// contextExtension is the ConclaveContext of next: its view id, its
// members in rank order with their leaves, the policy hash.
func (p *Participant) contextExtension(next membership.View, leaves []uint32) (keying.Extension, error) {
	cc, err := p.conclaveContext(next, leaves)
	if err != nil {
		return keying.Extension{}, err
	}
	b, err := cc.Bytes()
	if err != nil {
		return keying.Extension{}, fmt.Errorf("secure: %w", err)
	}
	return keying.Extension{Type: keying.ExtensionTypeConclaveContext, Data: b}, nil
}

func (p *Participant) conclaveContext(next membership.View, leaves []uint32) (*keying.ConclaveContext, error) {
	vid, err := viewIDBytes(next.ID)
	if err != nil {
		return nil, err
	}
	cc := &keying.ConclaveContext{ViewID: vid, Members: make([][]byte, len(next.Members)), PolicyHash: p.cfg.PolicyHash}
	if cc.PolicyHash == nil {
		cc.PolicyHash = []byte{}
	}
	for r, e := range next.Members {
		if cc.Members[r], err = memberEntry(e, leaves[r]); err != nil {
			return nil, err
		}
	}
	return cc, nil
}

// checkContext checks that a group context binds next (view id, members in
// order, policy hash) and returns the members' leaves by rank.
func (p *Participant) checkContext(gc *keying.GroupContext, next membership.View) ([]uint32, error) {
	cc, ok, err := gc.ConclaveContext()
	if err != nil || !ok {
		return nil, errors.New("secure: the epoch binds no view")
	}
	return p.leavesOf(cc, next)
}

func (p *Participant) leavesOf(cc keying.ConclaveContext, next membership.View) ([]uint32, error) {
	vid, err := viewIDBytes(next.ID)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(cc.ViewID, vid) || len(cc.Members) != len(next.Members) || !bytes.Equal(cc.PolicyHash, p.cfg.PolicyHash) {
		return nil, errors.New("secure: the epoch is bound to another view or policy")
	}
	leaves := make([]uint32, len(next.Members))
	seen := make(map[uint32]bool, len(leaves))
	for r, e := range next.Members {
		l, ok := parseLeaf(cc.Members[r], e)
		if !ok || seen[l] {
			return nil, errors.New("secure: the epoch's members are not the view's")
		}
		seen[l] = true
		leaves[r] = l
	}
	return leaves, nil
}

// checkTree checks that the tree's members are exactly the leaves of the
// view, this member at its own, and every identity admitted by this
// member's own check.
func (p *Participant) checkTree(g *keying.Group, next membership.View, leaves []uint32) error {
	me := next.Rank(p.self)
	if me < 0 || leaves[me] != g.Index() {
		return errors.New("secure: the epoch places this member at another leaf")
	}
	t := g.Tree()
	if len(t.Members()) != len(leaves) {
		return errors.New("secure: the epoch's tree holds other members than the view")
	}
	for _, l := range leaves {
		id, err := credentialIdentity(t.Leaf(l))
		if err != nil {
			return err
		}
		if err := p.cfg.Admit(id); err != nil {
			return fmt.Errorf("secure: the epoch holds %v, refused: %w", id, err)
		}
	}
	return nil
}

// confirmationTag is the confirmation tag of g's epoch: the same at every
// member of it (RFC 9420 §8.1).
func confirmationTag(g *keying.Group) []byte {
	return g.Epoch().ConfirmationTag(g.Context().ConfirmedTranscriptHash)
}

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
	if old := p.pending[next.ID]; old != nil {
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
	saved, err := p.cur.group.Marshal(nil)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	g, _, err := keying.Unmarshal(saved)
	saved.Zero()
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	if err := g.Process(c); err != nil {
		g.Destroy()
		return nil, fmt.Errorf("secure: %w", err)
	}
	if err := p.checkTree(g, next, leaves); err != nil {
		g.Destroy()
		return nil, err
	}
	return &pending{st: &epochState{view: next.Clone(), group: g, leaves: leaves}, conf: confirmationTag(g)}, nil
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
		if err == nil {
			err = p.checkTree(g, next, leaves)
		}
		if err != nil {
			g.Destroy()
			return nil, err
		}
		return &pending{st: &epochState{view: next.Clone(), group: g, leaves: leaves}, conf: confirmationTag(g)}, nil
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
	if p.cur != nil && p.cur.group != st.group {
		p.cur.group.Destroy()
	}
	p.cur = st
	for _, jk := range p.joining {
		jk.kps.DestroyInit()
		jk.kps.Leaf.Destroy()
		jk.kps.Signing.Destroy()
	}
	p.joining = nil
	members := make([][]byte, 0, len(next.Members))
	for _, e := range next.Members {
		if b, err := endpointBytes(e); err == nil {
			members = append(members, b)
		}
	}
	p.rosters.installed(members)
	r := p.history.at(next.ID)
	r.installed, r.confirmed = true, true
	if d, err := digestOf(st.group); err == nil {
		r.digest = d
	}
	k, err := p.epochKeys(st)
	if err != nil {
		return nil, err
	}
	return k, nil
}
