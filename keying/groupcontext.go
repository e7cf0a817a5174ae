package keying

import (
	"bytes"
	"errors"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// ProtocolVersionMLS10 is the only protocol version (RFC 9420 §6).
const ProtocolVersionMLS10 uint16 = 1

// Bounds on the group context's fields, checked before anything is sliced
// or allocated when a group context is decoded.
const (
	MaxGroupIDLen     = 256     // bytes of a group id
	MaxHashLen        = 64      // bytes of a tree or transcript hash (SHA-512)
	MaxExtensionsLen  = 1 << 24 // bytes of the whole extensions vector
	MaxExtensionCount = 64      // extensions in one group context
)

// ExtensionTypeConclaveContext is the extension type of ConclaveContext, in
// RFC 9420's private-use range (0xF000-0xFFFF, §17.3).
const ExtensionTypeConclaveContext uint16 = 0xFC01

// Errors of group context decoding.
var (
	ErrGroupContext       = errors.New("keying: malformed group context")
	ErrDuplicateExtension = errors.New("keying: extension type appears twice")
	ErrConclaveContext    = errors.New("keying: malformed conclave context extension")
)

// Extension is one MLS extension (RFC 9420 §13): a type and opaque data.
type Extension struct {
	Type uint16
	Data []byte
}

// GroupContext is the MLS GroupContext (RFC 9420 §8.1), the summary of an
// epoch that every key schedule derivation binds:
//
//	struct {
//	    ProtocolVersion version = mls10;
//	    CipherSuite cipher_suite;
//	    opaque group_id<V>;
//	    uint64 epoch;
//	    opaque tree_hash<V>;
//	    opaque confirmed_transcript_hash<V>;
//	    Extension extensions<V>;
//	} GroupContext;
//
// The version is not a field: it is always ProtocolVersionMLS10.
type GroupContext struct {
	Suite                   crypto.SuiteID
	GroupID                 []byte
	Epoch                   uint64
	TreeHash                []byte
	ConfirmedTranscriptHash []byte
	Extensions              []Extension
}

// Encode appends the group context's encoding to w.
func (g *GroupContext) Encode(w *mlsenc.Writer) {
	w.Uint16(ProtocolVersionMLS10)
	w.Uint16(uint16(g.Suite))
	w.Opaque(g.GroupID)
	w.Uint64(g.Epoch)
	w.Opaque(g.TreeHash)
	w.Opaque(g.ConfirmedTranscriptHash)
	w.Vector(func(w *mlsenc.Writer) {
		for _, e := range g.Extensions {
			w.Uint16(e.Type)
			w.Opaque(e.Data)
		}
	})
}

// Bytes is the group context's encoding.
func (g *GroupContext) Bytes() ([]byte, error) {
	// Sized ahead: every label, HPKE context and signature of an epoch
	// encodes the context, and growing the buffer field by field would
	// allocate several times. Lengths take at most 4 bytes each.
	n := 2 + 2 + 4 + len(g.GroupID) + 8 + 4 + len(g.TreeHash) + 4 + len(g.ConfirmedTranscriptHash) + 4
	for _, e := range g.Extensions {
		n += 2 + 4 + len(e.Data)
	}
	w := mlsenc.NewWriter(make([]byte, 0, n))
	g.Encode(w)
	return w.Bytes()
}

// DecodeGroupContext reads a group context from r, strictly: the version
// must be mls10, every length within its bound, extension types distinct.
// Errors stick in r. Slices alias r's input.
func DecodeGroupContext(r *mlsenc.Reader) GroupContext {
	var g GroupContext
	if r.Uint16() != ProtocolVersionMLS10 {
		r.Fail(ErrGroupContext)
		return g
	}
	g.Suite = crypto.SuiteID(r.Uint16())
	g.GroupID = r.Opaque(MaxGroupIDLen)
	g.Epoch = r.Uint64()
	g.TreeHash = r.Opaque(MaxHashLen)
	g.ConfirmedTranscriptHash = r.Opaque(MaxHashLen)
	g.Extensions = DecodeExtensions(r)
	return g
}

// DecodeExtensions reads an Extension extensions<V> vector from r: at most
// MaxExtensionCount extensions, MaxExtensionsLen bytes, no type twice.
func DecodeExtensions(r *mlsenc.Reader) []Extension {
	var exts []Extension
	r.Elements(MaxExtensionsLen, func(e *mlsenc.Reader) {
		if len(exts) == MaxExtensionCount {
			e.Fail(ErrGroupContext)
			return
		}
		x := Extension{Type: e.Uint16(), Data: e.Opaque(MaxExtensionsLen)}
		for _, o := range exts {
			if o.Type == x.Type {
				e.Fail(ErrDuplicateExtension)
				return
			}
		}
		exts = append(exts, x)
	})
	if exts == nil && r.Err() == nil {
		exts = []Extension{}
	}
	return exts
}

// ParseGroupContext decodes a whole group context, refusing trailing bytes.
func ParseGroupContext(b []byte) (GroupContext, error) {
	r := mlsenc.NewReader(b)
	g := DecodeGroupContext(r)
	if err := r.Done(); err != nil {
		return GroupContext{}, err
	}
	return g, nil
}

// Extension returns the data of the extension of type typ, if present.
func (g *GroupContext) Extension(typ uint16) ([]byte, bool) {
	for _, e := range g.Extensions {
		if e.Type == typ {
			return e.Data, true
		}
	}
	return nil, false
}

// SetExtension sets the extension of type typ to data, replacing any
// extension of that type.
func (g *GroupContext) SetExtension(typ uint16, data []byte) {
	for i := range g.Extensions {
		if g.Extensions[i].Type == typ {
			g.Extensions[i].Data = data
			return
		}
	}
	g.Extensions = append(g.Extensions, Extension{Type: typ, Data: data})
}

// Equal reports whether g and o are the same group context.
func (g *GroupContext) Equal(o *GroupContext) bool {
	a, errA := g.Bytes()
	b, errB := o.Bytes()
	return errA == nil && errB == nil && bytes.Equal(a, b)
}
