package hostile

import (
	"encoding/binary"

	"github.com/conclave-go/conclave/membership"
)

// SealedType is the type byte of membership's sealed envelope (a control
// message authenticated for a view, membership/auth.go).
const SealedType ControlType = 21

// Seal is what makes a sealed envelope's tag: an authenticator's Seal,
// the attacker's own (an insider's, an ex-member's old one) or made up.
type Seal func(dst, msg []byte, c membership.Class) []byte

// Envelope is a sealed envelope as an attacker forges it: any sender, any
// view, any rank and sequence number, around an inner control message
// that claims the same sender (membership opens only such).
type Envelope struct {
	Group uint64
	From  membership.Endpoint // the sender the envelope claims
	View  uint64              // the view's wire id (membership.ViewID.Wire)
	Rank  int                 // the rank it claims in that view
	Seq   uint64
}

// Append appends the envelope around inner (a control message made by
// Control.Append, whose From should be e.From), with the tag seal makes
// over everything before it, in class c.
func (e *Envelope) Append(b, inner []byte, c membership.Class, seal Seal) []byte {
	start := len(b)
	b = append(b, membership.Magic)
	b = binary.BigEndian.AppendUint64(b, e.Group)
	b = append(b, byte(SealedType))
	b = appendEndpoint(b, e.From)
	b = binary.BigEndian.AppendUint64(b, e.View)
	b = binary.AppendUvarint(b, uint64(e.Rank))
	b = binary.AppendUvarint(b, e.Seq)
	b = appendBlob(b, inner)
	tag := seal(nil, b[start:], c)
	return appendBlob(b, tag)
}

// ClassOf is the class membership seals a control message of type t in
// (membership.ClassOf); a type membership does not know gets Change, which
// is sealed with a signature, so that what is made of it reaches the
// receiver's checks.
func ClassOf(t ControlType) membership.Class {
	if c, ok := membership.ClassOf(byte(t)); ok {
		return c
	}
	return membership.Change
}

// IsSealed reports whether data is a sealed control datagram of group.
func IsSealed(data []byte, group uint64) bool {
	return len(data) > 10 && data[0] == membership.Magic && binary.BigEndian.Uint64(data[1:9]) == group && data[9] == byte(SealedType)
}
