package keying

import (
	"errors"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Proposal types (RFC 9420 §12.1): the three a Conclave view change uses.
const (
	ProposalAdd    uint16 = 1
	ProposalUpdate uint16 = 2
	ProposalRemove uint16 = 3
)

// ErrProposal reports a malformed or unsupported proposal.
var ErrProposal = errors.New("keying: malformed or unsupported proposal")

// Proposal is one change a commit applies: an add (a joiner's key
// package), an update (a member's fresh leaf node, proposed by that
// member) or a remove (a leaf index). In RFC 9420's encoding:
//
//	struct {
//	    ProposalType proposal_type;
//	    select (Proposal.proposal_type) {
//	        case add:    KeyPackage key_package;
//	        case update: LeafNode leaf_node;
//	        case remove: uint32 removed;
//	    };
//	} Proposal;
//
// An update's sender is not in the proposal: RFC 9420 frames it apart, and
// so does Conclave's commit (Sender).
type Proposal struct {
	Type       uint16
	KeyPackage *KeyPackage // add
	Leaf       *LeafNode   // update
	Sender     uint32      // update: the proposing member's leaf
	Removed    uint32      // remove
}

// Encode appends the proposal's RFC 9420 encoding to w (without Sender).
func (p *Proposal) Encode(w *mlsenc.Writer) {
	w.Uint16(p.Type)
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage.Encode(w)
	case ProposalUpdate:
		p.Leaf.Encode(w)
	case ProposalRemove:
		w.Uint32(p.Removed)
	}
}

// DecodeProposal reads an add, update or remove proposal from r; other
// types fail. Errors stick in r.
func DecodeProposal(r *mlsenc.Reader) *Proposal {
	p := &Proposal{Type: r.Uint16()}
	switch p.Type {
	case ProposalAdd:
		p.KeyPackage = DecodeKeyPackage(r)
	case ProposalUpdate:
		p.Leaf = DecodeLeafNode(r)
	case ProposalRemove:
		p.Removed = r.Uint32()
	default:
		r.Fail(ErrProposal)
	}
	if r.Err() != nil {
		return nil
	}
	return p
}

// ParseProposal decodes a whole proposal, refusing trailing bytes.
func ParseProposal(b []byte) (*Proposal, error) {
	r := mlsenc.NewReader(b)
	p := DecodeProposal(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return p, nil
}
