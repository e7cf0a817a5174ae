package keying

import (
	"bytes"
	"errors"
	"io"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Bounds on a commit.
const (
	MaxProposalsLen = 1 << 26 // bytes of the proposals vector
	MaxProposals    = 1 << 16 // proposals in one commit
)

// Commit is Conclave's commit: the proposals one view change applies and
// the committer's update path, signed by the committer and confirmed by the
// new epoch's confirmation tag. Its content follows RFC 9420's Commit
// (§12.4) without proposal references, framed in Conclave's own manner:
//
//	struct {
//	    uint64 epoch;                  // the epoch the commit leaves
//	    uint32 committer;
//	    CommitProposal proposals<V>;   // Proposal, then uint32 sender for updates
//	    optional<Extension extensions<V>>;  // the next group context's, if changed
//	    UpdatePath path;
//	    opaque signature<V>;           // SignWithLabel("ConclaveCommitTBS", GroupContext || content)
//	    opaque confirmation_tag<V>;    // MAC(confirmation_key, confirmed_transcript_hash)
//	} Commit;
//
// The confirmed transcript hash of the new epoch chains the previous
// interim hash with everything but the confirmation tag (RFC 9420 §8.2).
//
// Extensions, when present, replace the group context's extensions from
// the new epoch on, as RFC 9420's GroupContextExtensions proposal does:
// that is how each view binds its own ConclaveContext (view id, member
// list, policy) into the key schedule.
type Commit struct {
	Epoch           uint64
	Committer       uint32
	Proposals       []Proposal
	Extensions      []Extension // nil: unchanged
	Path            *UpdatePath
	Signature       []byte
	ConfirmationTag []byte
}

func (c *Commit) encodeContent(w *mlsenc.Writer) {
	w.Uint64(c.Epoch)
	w.Uint32(c.Committer)
	w.Vector(func(w *mlsenc.Writer) {
		for i := range c.Proposals {
			p := &c.Proposals[i]
			p.Encode(w)
			if p.Type == ProposalUpdate {
				w.Uint32(p.Sender)
			}
		}
	})
	w.Bool(c.Extensions != nil)
	if c.Extensions != nil {
		encodeExtensions(w, c.Extensions)
	}
	c.Path.Encode(w)
}

func (c *Commit) content() ([]byte, error) {
	return c.contentAfter(nil)
}

// contentAfter appends the commit's content to a copy of prefix, in a
// buffer sized for both: the signature covers the group context followed
// by the content, the transcript the content alone, a slice of the same
// encoding.
func (c *Commit) contentAfter(prefix []byte) ([]byte, error) {
	w := mlsenc.NewWriter(append(make([]byte, 0, len(prefix)+c.sizeHint()), prefix...))
	c.encodeContent(w)
	return w.Bytes()
}

// sizeHint bounds the length of the commit's encoding, so that encoding
// it allocates once: each length prefix takes at most 4 bytes.
func (c *Commit) sizeHint() int {
	n := 8 + 4 + 4 + 1 + 4 + 4 + len(c.Signature) + 4 + len(c.ConfirmationTag)
	for i := range c.Proposals {
		p := &c.Proposals[i]
		n += 2 + 4
		switch {
		case p.KeyPackage != nil:
			n += p.KeyPackage.sizeHint()
		case p.Leaf != nil:
			n += p.Leaf.sizeHint()
		}
	}
	for _, e := range c.Extensions {
		n += 2 + 4 + len(e.Data)
	}
	if c.Path != nil {
		n += c.Path.sizeHint()
	}
	return n
}

// transcriptInput is what the confirmed transcript hash covers, given the
// commit's content (which the signature covered too: encoded once).
func (c *Commit) transcriptInput(content []byte) ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, len(content)+len(c.Signature)+8))
	w.Raw(content)
	w.Opaque(c.Signature)
	return w.Bytes()
}

// Bytes is the commit's encoding.
func (c *Commit) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, c.sizeHint()))
	c.encodeContent(w)
	w.Opaque(c.Signature)
	w.Opaque(c.ConfirmationTag)
	return w.Bytes()
}

// ParseCommit decodes a whole commit strictly: bounded counts and lengths,
// no trailing bytes.
func ParseCommit(b []byte) (*Commit, error) {
	r := mlsenc.NewReader(b)
	c := &Commit{Epoch: r.Uint64(), Committer: r.Uint32(), Proposals: []Proposal{}}
	r.Elements(MaxProposalsLen, func(e *mlsenc.Reader) {
		if len(c.Proposals) == MaxProposals {
			e.Fail(ErrProposal)
			return
		}
		p := DecodeProposal(e)
		if p == nil {
			return
		}
		if p.Type == ProposalUpdate {
			p.Sender = e.Uint32()
		}
		c.Proposals = append(c.Proposals, *p)
	})
	if r.Bool() {
		c.Extensions = DecodeExtensions(r)
	}
	c.Path = DecodeUpdatePath(r)
	c.Signature = r.Opaque(MaxSignatureLen)
	c.ConfirmationTag = r.Opaque(MaxHashLen)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return c, nil
}

// applyProposals checks proposals by committer and applies them to t in
// RFC 9420's order (updates, removes, adds; §12.3), inside the caller's
// edit. It returns the joiners' leaf indices in proposal order. Each leaf
// is touched by at most one proposal, never the committer's.
func (t *Tree) applyProposals(s *crypto.Suite, groupID []byte, committer uint32, proposals []Proposal) ([]uint32, error) {
	if err := t.checkFreshKeys(proposals); err != nil {
		return nil, err
	}
	touched := map[uint32]bool{committer: true}
	for _, p := range proposals {
		switch p.Type {
		case ProposalUpdate:
			if p.Leaf == nil || touched[p.Sender] || !t.Occupied(p.Sender) || p.Leaf.Source != SourceUpdate {
				return nil, ErrBadProposal
			}
			touched[p.Sender] = true
			if err := p.Leaf.Verify(s, groupID, p.Sender); err != nil {
				return nil, err
			}
			if !bytes.Equal(p.Leaf.SignatureKey, t.leafView(p.Sender).SignatureKey) {
				return nil, ErrBadProposal
			}
			if _, err := s.ParseKEMPublicKey(p.Leaf.EncryptionKey); err != nil {
				return nil, err
			}
			if err := t.UpdateLeaf(p.Sender, p.Leaf); err != nil {
				return nil, err
			}
		}
	}
	for _, p := range proposals {
		if p.Type == ProposalRemove {
			if touched[p.Removed] || !t.Occupied(p.Removed) {
				return nil, ErrBadProposal
			}
			touched[p.Removed] = true
			if err := t.RemoveLeaf(p.Removed); err != nil {
				return nil, err
			}
		}
	}
	var joiners []uint32
	for _, p := range proposals {
		switch p.Type {
		case ProposalAdd:
			if p.KeyPackage == nil {
				return nil, ErrBadProposal
			}
			if err := p.KeyPackage.Verify(s); err != nil {
				return nil, err
			}
			i, err := t.AddLeaf(p.KeyPackage.Leaf)
			if err != nil {
				return nil, err
			}
			joiners = append(joiners, i)
		case ProposalUpdate, ProposalRemove:
		default:
			return nil, ErrBadProposal
		}
	}
	return joiners, nil
}

// checkFreshKeys refuses adds and updates whose leaf reuses an encryption
// key of any node, or a signature key of another member (RFC 9420 §7.3), so
// that a joiner's validation of the tree cannot fail where the members'
// did not. It reads every node's keys once: O(n), paid only by commits that
// add or update.
func (t *Tree) checkFreshKeys(proposals []Proposal) error {
	enc := map[string]bool{}
	sig := map[string]int{} // signature key -> leaf it may stay with (-1: none)
	for _, p := range proposals {
		var l *LeafNode
		owner := -1
		switch {
		case p.Type == ProposalAdd && p.KeyPackage != nil:
			l = p.KeyPackage.Leaf
		case p.Type == ProposalUpdate && p.Leaf != nil:
			l, owner = p.Leaf, int(p.Sender)
		default:
			continue
		}
		if enc[string(l.EncryptionKey)] {
			return ErrDuplicateID
		}
		if _, dup := sig[string(l.SignatureKey)]; dup {
			return ErrDuplicateID
		}
		enc[string(l.EncryptionKey)] = true
		sig[string(l.SignatureKey)] = owner
	}
	if len(enc) == 0 {
		return nil
	}
	for x := uint32(0); x < uint32(len(t.nodes)); x++ {
		if t.blank(x) {
			continue
		}
		r := mlsenc.NewReader(t.nodes[x])
		if enc[string(r.Opaque(MaxPublicKeyLen))] {
			return ErrDuplicateID
		}
		if isLeaf(x) {
			if owner, ok := sig[string(r.Opaque(MaxPublicKeyLen))]; ok && owner != int(nodeLeaf(x)) {
				return ErrDuplicateID
			}
		}
	}
	return nil
}

// provisional returns the group context a commit's path is encrypted under
// (RFC 9420 §12.4.2): the next epoch, the old confirmed transcript hash,
// the commit's extensions if it changes them; the tree hash is set once
// the path is merged.
func (g *Group) provisional(exts []Extension) *GroupContext {
	if exts == nil {
		exts = g.gc.Extensions
	}
	return &GroupContext{
		Suite:                   g.gc.Suite,
		GroupID:                 g.gc.GroupID,
		Epoch:                   g.gc.Epoch + 1,
		ConfirmedTranscriptHash: g.gc.ConfirmedTranscriptHash,
		Extensions:              exts,
	}
}

// CommitResult is what a committer gets from Commit.
type CommitResult struct {
	Commit   *Commit
	Welcomes []*Welcome // one per add proposal, in proposal order
	// Seals counts the HPKE encryptions made: path secrets and welcomes.
	Seals int
}

// Commit applies proposals, refreshes this member's path, moves the group
// to the next epoch and returns the commit for the other members and a
// welcome for each joiner. exts, if not nil, are the new epoch's group
// context extensions (no type twice). On error the group is unchanged.
func (g *Group) Commit(proposals []Proposal, exts []Extension, rand io.Reader) (*CommitResult, error) {
	res, p, err := g.PrepareCommit(proposals, exts, rand)
	if err != nil {
		return nil, err
	}
	p.Confirm()
	return res, nil
}

// PendingCommit is a commit made but not yet installed: the view change
// that carries it may still be abandoned. Until Confirm or Abandon the
// group refuses every other change (ErrCommitPending).
type PendingCommit struct {
	g       *Group
	next    *Epoch
	gc      *GroupContext
	c       *Commit
	joiners []uint32
	keys    *pathKeys
}

// ErrCommitPending is returned while a prepared commit awaits Confirm or
// Abandon.
var ErrCommitPending = errors.New("keying: a prepared commit is neither confirmed nor abandoned")

// PrepareCommit does Commit's work but leaves the group in its epoch until
// the returned PendingCommit is confirmed; Abandon restores the group
// exactly as it was, so that all members switch epochs or none does.
func (g *Group) PrepareCommit(proposals []Proposal, exts []Extension, rand io.Reader) (*CommitResult, *PendingCommit, error) {
	return g.prepare(proposals, exts, nil, rand)
}

// prepare is PrepareCommit with the path from draw if not nil (emptied
// whatever the outcome), else from rand.
func (g *Group) prepare(proposals []Proposal, exts []Extension, draw *PathDraw, rand io.Reader) (*CommitResult, *PendingCommit, error) {
	if g.prepared != nil {
		draw.Destroy()
		return nil, nil, ErrCommitPending
	}
	res, p, err := g.prepareCommit(proposals, exts, draw, rand)
	if err != nil {
		return nil, nil, err
	}
	g.prepared = p
	return res, p, nil
}

// Confirm installs the prepared commit: the group moves to the new epoch.
func (p *PendingCommit) Confirm() {
	g := p.g
	if g.prepared != p {
		return
	}
	g.prepared = nil
	g.tree.commitEdit()
	p.keys.install(g.priv, g.tree.leaves)
	g.finish(p.next, p.gc, p.c, p.joiners)
}

// Abandon drops the prepared commit: the group stays in its epoch, the new
// path's keys and the next epoch's secrets are destroyed.
func (p *PendingCommit) Abandon() {
	g := p.g
	if g.prepared != p {
		return
	}
	g.prepared = nil
	g.tree.rollback()
	p.keys.destroy()
	p.next.Destroy()
}

// prepareCommit makes the commit, its path from draw if not nil (which it
// empties whatever the outcome), else from rand.
func (g *Group) prepareCommit(proposals []Proposal, exts []Extension, draw *PathDraw, rand io.Reader) (*CommitResult, *PendingCommit, error) {
	for i := range exts {
		for j := range i {
			if exts[i].Type == exts[j].Type {
				draw.Destroy()
				return nil, nil, ErrDuplicateExtension
			}
		}
	}
	s, t := g.suite, g.tree
	me := g.priv.Leaf
	oldCtx, err := g.gc.Bytes()
	if err != nil {
		draw.Destroy()
		return nil, nil, err
	}
	t.begin()
	joiners, err := t.applyProposals(s, g.gc.GroupID, me, proposals)
	if err != nil {
		t.rollback()
		draw.Destroy()
		return nil, nil, err
	}
	gc := g.provisional(exts)
	up, res, keys, err := t.createPath(me, t.leafView(me), g.sig, gc, joiners, draw, rand)
	if err != nil {
		t.rollback()
		return nil, nil, err
	}
	fail := func(err error) (*CommitResult, *PendingCommit, error) {
		t.rollback()
		res.Destroy()
		keys.destroy()
		return nil, nil, err
	}
	c := &Commit{Epoch: g.gc.Epoch, Committer: me, Proposals: proposals, Extensions: exts, Path: up}
	content, err := c.content()
	if err != nil {
		return fail(err)
	}
	if c.Signature, err = s.SignWithLabel(g.sig, "ConclaveCommitTBS", append(oldCtx, content...)); err != nil {
		return fail(err)
	}
	next, confirmed, err := g.nextEpoch(c, content, res.CommitSecret, gc)
	if err != nil {
		return fail(err)
	}
	c.ConfirmationTag = next.ConfirmationTag(confirmed)
	gc.ConfirmedTranscriptHash = confirmed

	out := &CommitResult{Commit: c, Seals: res.Seals}
	if len(joiners) > 0 {
		info, err := g.groupInfo(gc, c.ConfirmationTag, g.nextRefreshed(false, c, joiners, gc.Epoch))
		if err != nil {
			next.Destroy()
			return fail(err)
		}
		for k, j := range joiners {
			var kp *KeyPackage
			n := 0
			for i := range proposals {
				if proposals[i].Type == ProposalAdd {
					if n == k {
						kp = proposals[i].KeyPackage
					}
					n++
				}
			}
			w, err := g.welcome(next, info, kp, j, res.PathSecret, me)
			if err != nil {
				next.Destroy()
				return fail(err)
			}
			out.Welcomes = append(out.Welcomes, w)
			out.Seals++
		}
	}
	res.Destroy()
	return out, &PendingCommit{g: g, next: next, gc: gc, c: c, joiners: joiners, keys: keys}, nil
}

// nextEpoch runs the key schedule for a commit with the given content:
// the confirmed transcript hash, then the epoch from the commit secret
// under the final context.
func (g *Group) nextEpoch(c *Commit, content []byte, commitSecret crypto.Secret, gc *GroupContext) (*Epoch, []byte, error) {
	input, err := c.transcriptInput(content)
	if err != nil {
		return nil, nil, err
	}
	confirmed := ConfirmedTranscriptHash(g.suite, g.interim, input)
	final := *gc
	final.ConfirmedTranscriptHash = confirmed
	next, err := g.epoch.Next(commitSecret, nil, &final)
	if err != nil {
		return nil, nil, err
	}
	return next, confirmed, nil
}

// nextRefreshed returns the path-refresh table after commit c: the
// committer's path and every joiner's leaf are as new as the epoch; an
// updated member's path is blank, so its entry stays. In place, it reuses
// g.refreshed, which costs nothing per member on the commits of a large
// group; otherwise it works on a copy.
func (g *Group) nextRefreshed(inPlace bool, c *Commit, joiners []uint32, epoch uint64) []uint64 {
	dst := g.refreshed
	if !inPlace {
		dst = append([]uint64(nil), g.refreshed...)
	}
	n, old := int(g.tree.leaves), len(dst)
	if n <= old {
		dst = dst[:n]
	} else {
		dst = append(dst, make([]uint64, n-old)...)
	}
	dst[c.Committer] = epoch
	for _, j := range joiners {
		dst[j] = epoch
	}
	return dst
}

// finish installs the new epoch after commit c.
func (g *Group) finish(next *Epoch, gc *GroupContext, c *Commit, joiners []uint32) {
	g.epoch.Destroy()
	g.epoch = next
	g.gc = *gc
	g.interim = InterimTranscriptHash(g.suite, gc.ConfirmedTranscriptHash, c.ConfirmationTag)
	g.refreshed = g.nextRefreshed(true, c, joiners, gc.Epoch)
}

// Process applies a commit made by another member: it checks the
// committer's signature, applies the proposals, decrypts the path secret
// meant for this member, runs the key schedule and checks the confirmation
// tag. A commit that removes this member fails with ErrRemoved. On error
// the group is unchanged.
func (g *Group) Process(c *Commit) error {
	if g.prepared != nil {
		return ErrCommitPending
	}
	s, t := g.suite, g.tree
	if c.Epoch != g.gc.Epoch {
		return ErrWrongEpoch
	}
	if c.Committer == g.priv.Leaf || !t.Occupied(c.Committer) {
		return ErrCommitter
	}
	if c.Path == nil {
		return ErrPathLength
	}
	oldCtx, err := g.gc.Bytes()
	if err != nil {
		return err
	}
	tbs, err := c.contentAfter(oldCtx)
	if err != nil {
		return err
	}
	content := tbs[len(oldCtx):]
	if err := s.VerifyWithLabel(t.leafView(c.Committer).SignatureKey, "ConclaveCommitTBS", tbs, c.Signature); err != nil {
		return err
	}
	var myUpdate *crypto.KEMPrivateKey
	for _, p := range c.Proposals {
		switch {
		case p.Type == ProposalRemove && p.Removed == g.priv.Leaf:
			return ErrRemoved
		case p.Type == ProposalUpdate && p.Sender == g.priv.Leaf && p.Leaf != nil:
			if myUpdate = g.pending[string(p.Leaf.EncryptionKey)]; myUpdate == nil {
				return ErrBadProposal
			}
		}
	}
	t.begin()
	joiners, err := t.applyProposals(s, g.gc.GroupID, c.Committer, c.Proposals)
	if err != nil {
		t.rollback()
		return err
	}
	gc := g.provisional(c.Extensions)
	// An updated member decrypts with its new leaf key: look it up in a
	// view of the private keys that has it in place of the old one.
	priv := g.priv
	if myUpdate != nil {
		priv = &PrivateKeys{Leaf: g.priv.Leaf, keys: map[uint32]*crypto.KEMPrivateKey{leafNode(g.priv.Leaf): myUpdate}}
	}
	res, keys, err := t.processPath(priv, c.Committer, c.Path, gc, joiners)
	if err != nil {
		t.rollback()
		return err
	}
	next, confirmed, err := g.nextEpoch(c, content, res.CommitSecret, gc)
	res.Destroy()
	if err != nil {
		t.rollback()
		keys.destroy()
		return err
	}
	if !next.VerifyConfirmationTag(confirmed, c.ConfirmationTag) {
		t.rollback()
		keys.destroy()
		next.Destroy()
		return ErrConfirmation
	}
	gc.ConfirmedTranscriptHash = confirmed
	t.commitEdit()
	if myUpdate != nil {
		// The update blanked this member's direct path: every parent key
		// it held is gone; the new leaf key replaces the old.
		for x := range g.priv.keys {
			g.priv.drop(x)
		}
		delete(g.pending, string(t.leafView(g.priv.Leaf).EncryptionKey))
		g.priv.set(leafNode(g.priv.Leaf), myUpdate)
	}
	// Keys for nodes the proposals blanked or truncated are useless now.
	for x := range g.priv.keys {
		if x >= uint32(len(t.nodes)) || t.blank(x) {
			g.priv.drop(x)
		}
	}
	keys.install(g.priv, t.leaves)
	g.finish(next, gc, c, joiners)
	return nil
}
