package secure

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// How an epoch is bound to its view (keying.ConclaveContext), and the
// checks every member makes of a new epoch.

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
// view, this member at its own, the members of the epoch old (nil for a
// joiner) under the identities they had there, and every identity new to
// this member admitted by its own check. Identities already in old are not
// checked again: a policy that came to refuse a member already in has it
// leave, rather than every later view refused.
func (p *Participant) checkTree(st *epochState, old *epochState) error {
	g, next, leaves := st.group, st.view, st.leaves
	me := next.Rank(p.self)
	if me < 0 || leaves[me] != g.Index() {
		return errors.New("secure: the epoch places this member at another leaf")
	}
	t := g.Tree()
	if len(t.Members()) != len(leaves) {
		return errors.New("secure: the epoch's tree holds other members than the view")
	}
	for r := range leaves {
		l := st.leaf(r)
		if old != nil {
			if or := old.view.Rank(next.Members[r]); or >= 0 {
				// An identity is a function of its credential's bytes:
				// the same bytes need no parsing.
				ol := old.leaf(or)
				if sameCredential(l, ol) {
					continue
				}
				id, err := credentialIdentity(l)
				if err != nil {
					return err
				}
				was, err := credentialIdentity(ol)
				if err != nil || was != id {
					return errors.New("secure: the epoch changes a member's identity")
				}
				continue
			}
		}
		id, err := credentialIdentity(l)
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

// sameCredential reports whether two leaves carry the same credential,
// byte for byte.
func sameCredential(a, b *keying.LeafNode) bool {
	ca, cb := a.Credential, b.Credential
	return ca.Type == cb.Type && bytes.Equal(ca.Identity, cb.Identity) &&
		slices.EqualFunc(ca.Certificates, cb.Certificates, bytes.Equal)
}
