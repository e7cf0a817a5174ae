package secure

import (
	"testing"

	"github.com/conclave-go/conclave/keying"
)

// TestSameCredential: checkTree skips parsing a member's identity only
// when its credential is the same byte for byte, in every field.
func TestSameCredential(t *testing.T) {
	leaf := func(c keying.Credential) *keying.LeafNode { return &keying.LeafNode{Credential: c} }
	base := keying.Credential{Type: 1, Identity: []byte("noise:abc")}
	if !sameCredential(leaf(base), leaf(keying.Credential{Type: 1, Identity: []byte("noise:abc")})) {
		t.Fatal("equal credentials differ")
	}
	for name, c := range map[string]keying.Credential{
		"type":         {Type: 2, Identity: []byte("noise:abc")},
		"identity":     {Type: 1, Identity: []byte("noise:abd")},
		"longer":       {Type: 1, Identity: []byte("noise:abc ")},
		"certificates": {Type: 1, Identity: []byte("noise:abc"), Certificates: [][]byte{{1}}},
	} {
		if sameCredential(leaf(base), leaf(c)) {
			t.Errorf("a credential with another %s is the same", name)
		}
	}
}
