package keying

import (
	"errors"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// MaxUnmergedLen bounds the bytes of a parent node's unmerged leaves: the
// largest vector the encoding carries.
const MaxUnmergedLen = mlsenc.MaxVarint

// ErrParentNode reports a malformed parent node.
var ErrParentNode = errors.New("keying: malformed parent node")

// ParentNode is RFC 9420's ParentNode (§7.1):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    opaque parent_hash<V>;
//	    uint32 unmerged_leaves<V>;
//	} ParentNode;
type ParentNode struct {
	EncryptionKey  []byte
	ParentHash     []byte
	UnmergedLeaves []uint32 // leaf indices, in the order they were added
}

// Encode appends the parent node's encoding to w.
func (p *ParentNode) Encode(w *mlsenc.Writer) {
	w.Opaque(p.EncryptionKey)
	w.Opaque(p.ParentHash)
	w.Vector(func(w *mlsenc.Writer) {
		for _, l := range p.UnmergedLeaves {
			w.Uint32(l)
		}
	})
}

// Bytes is the parent node's encoding.
func (p *ParentNode) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, 4+len(p.EncryptionKey)+4+len(p.ParentHash)+4+4*len(p.UnmergedLeaves)))
	p.Encode(w)
	return w.Bytes()
}

// DecodeParentNode reads a parent node from r with bounded lengths. The
// unmerged leaves keep the order of the adds that made them (RFC 9420
// appends); the tree checks that they are distinct leaves of the node's
// subtree. Errors stick in r; slices alias r's input.
func DecodeParentNode(r *mlsenc.Reader) *ParentNode {
	p := &ParentNode{}
	p.EncryptionKey = r.Opaque(MaxPublicKeyLen)
	p.ParentHash = r.Opaque(MaxHashLen)
	r.Vector(MaxUnmergedLen, func(b *mlsenc.Reader) {
		if b.Len()%4 != 0 {
			b.Fail(ErrParentNode)
			return
		}
		p.UnmergedLeaves = make([]uint32, 0, b.Len()/4)
		for !b.Empty() {
			p.UnmergedLeaves = append(p.UnmergedLeaves, b.Uint32())
		}
	})
	if r.Err() != nil {
		return nil
	}
	return p
}
