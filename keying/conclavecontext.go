package keying

import (
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Bounds of ConclaveContext, checked before anything is sliced or
// allocated when one is decoded.
const (
	MaxMembers       = 1 << 17 // members of one view
	MaxMemberIDLen   = 64      // bytes of one member's encoded identity
	MaxViewIDLen     = 64      // bytes of an encoded view id
	MaxPolicyHashLen = 64      // bytes of the policy hash
)

// conclaveContextVersion is the first byte of the extension, so that its
// layout can change without being mistaken for the old one.
const conclaveContextVersion = 1

// ConclaveContext is what Conclave binds into every epoch's group context,
// as the extension of type ExtensionTypeConclaveContext: the view the epoch
// belongs to, its members in order, and the hash of the group's admission
// policy. Because the group context enters the key schedule, members that
// disagree on any of these derive different keys and cannot talk.
//
// The view id and member identities are opaque here, in whatever encoding
// the membership layer gives them; keying does not interpret them.
//
//	struct {
//	    uint8 version = 1;
//	    opaque view_id<V>;
//	    opaque members<V><V>;
//	    opaque policy_hash<V>;
//	} ConclaveContext;
type ConclaveContext struct {
	ViewID     []byte
	Members    [][]byte
	PolicyHash []byte
}

// Bytes is the extension data.
func (c *ConclaveContext) Bytes() ([]byte, error) {
	if len(c.Members) > MaxMembers {
		return nil, ErrConclaveContext
	}
	w := mlsenc.NewWriter(nil)
	w.Uint8(conclaveContextVersion)
	w.Opaque(c.ViewID)
	w.Vector(func(w *mlsenc.Writer) {
		for _, m := range c.Members {
			w.Opaque(m)
		}
	})
	w.Opaque(c.PolicyHash)
	return w.Bytes()
}

// ParseConclaveContext decodes extension data strictly: known version,
// bounded lengths and member count, no trailing bytes. Slices alias b.
func ParseConclaveContext(b []byte) (ConclaveContext, error) {
	var c ConclaveContext
	r := mlsenc.NewReader(b)
	if r.Uint8() != conclaveContextVersion {
		return ConclaveContext{}, ErrConclaveContext
	}
	c.ViewID = r.Opaque(MaxViewIDLen)
	r.Elements(MaxMembers*(4+MaxMemberIDLen), func(e *mlsenc.Reader) {
		if len(c.Members) == MaxMembers {
			e.Fail(ErrConclaveContext)
			return
		}
		c.Members = append(c.Members, e.Opaque(MaxMemberIDLen))
	})
	c.PolicyHash = r.Opaque(MaxPolicyHashLen)
	if err := r.Done(); err != nil {
		return ConclaveContext{}, err
	}
	return c, nil
}

// SetConclaveContext stores c as g's ConclaveContext extension.
func (g *GroupContext) SetConclaveContext(c *ConclaveContext) error {
	b, err := c.Bytes()
	if err != nil {
		return err
	}
	g.SetExtension(ExtensionTypeConclaveContext, b)
	return nil
}

// ConclaveContext decodes g's ConclaveContext extension; ok is false if g
// has none.
func (g *GroupContext) ConclaveContext() (c ConclaveContext, ok bool, err error) {
	b, ok := g.Extension(ExtensionTypeConclaveContext)
	if !ok {
		return ConclaveContext{}, false, nil
	}
	c, err = ParseConclaveContext(b)
	return c, true, err
}
