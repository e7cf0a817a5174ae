package encrypt_test

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

type treeKeys struct{ tree *keying.SecretTree }

func (k *treeKeys) Release() { k.tree.Destroy() }

func (k *treeKeys) ApplicationRatchet(r int) (*keying.Ratchet, error) {
	return k.tree.Ratchet(uint32(r), keying.ApplicationRatchet)
}

// The reliable stack with encrypt above bottom: bundles packed to the
// limit with messages of every small size, and fragments of large ones,
// with bundling or without, stay within MaxDatagram once sealed, and the
// other members accept and deliver every one. A view id and rank of many bytes make the
// bottom header as long as it gets in practice.
func TestSecuredStackFitsDatagrams(t *testing.T) {
	s, err := crypto.LookupSuite(crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	const n = 3
	reliable := []string{"bottom", "encrypt", "bundle", "mnak", "pt2pt", "stable", "mflow", "frag"}
	type run struct {
		names []string
		size  int
	}
	// Fragments and small messages of a stack without bundling, whose
	// datagrams come with the other layers' headers pushed.
	unbundled := []string{"bottom", "encrypt", "mnak", "pt2pt", "stable", "mflow", "frag"}
	runs := []run{{unbundled, 3000}, {unbundled, 10}}
	// Fragments, and bundles of every small size.
	runs = append(runs, run{reliable, 3000})
	for size := 1; size <= 200; size++ {
		runs = append(runs, run{reliable, size})
	}
	for _, r := range runs {
		names, size := r.names, r.size
		stacks := make([]*layers.Stack, n)
		for r := range stacks {
			tree, err := keying.NewSecretTree(s, bytes.Repeat([]byte{1}, s.HashSize()), 4)
			if err != nil {
				t.Fatal(err)
			}
			cfg := layers.Config{View: layers.View{Group: 7, ID: 1 << 62, Rank: r, N: n}, Keys: &treeKeys{tree}}
			if stacks[r], err = compose.Build(cfg, names, compose.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		const casts = 100
		for i := range casts {
			stacks[0].Cast(bytes.Repeat([]byte{byte(i)}, size))
		}
		stacks[0].Flush()
		for _, p := range stacks[0].Ready().Packets {
			if len(p.Data) > layers.DefaultMaxDatagram {
				t.Fatalf("size %d: a datagram of %d bytes", size, len(p.Data))
			}
			for r := 1; r < n; r++ {
				if !stacks[r].Receive(bytes.Clone(p.Data)) {
					t.Fatalf("size %d: member %d refused a datagram", size, r)
				}
			}
		}
		stacks[0].Advance()
		for r := 1; r < n; r++ {
			stacks[r].Flush()
			if got := len(stacks[r].Ready().Deliveries); got != casts {
				t.Fatalf("size %d: member %d delivered %d of %d", size, r, got, casts)
			}
			stacks[r].Advance()
		}
	}
}
