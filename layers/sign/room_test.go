package sign_test

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// securedKeys are a member's keys for a stack with both encrypt and sign:
// the epoch's secret tree and the signature keys.
type securedKeys struct {
	*testKeys
	tree *keying.SecretTree
}

func (k *securedKeys) Release() { k.tree.Destroy(); k.testKeys.Release() }

func (k *securedKeys) ApplicationRatchet(r int) (*keying.Ratchet, error) {
	return k.tree.Ratchet(uint32(r), keying.ApplicationRatchet)
}

// With encrypt and sign both in the stack, a fragment as long as frag
// makes it that is the last message of a batch (so it carries the
// signature) and is sealed still fits in MaxDatagram: frag leaves free the
// room the security layers below it say they take (layers.Roomer). Before,
// such a datagram came out a few bytes too long, every receiver dropped
// it, and the sender resent it for ever.
func TestFullFragmentsFitWithEncryptAndSign(t *testing.T) {
	// Messages of one or two fragments as long as frag would make them
	// without leaving that room, and of a hundred.
	for _, size := range []int{1290, 1304, 1310, 2 * 1304, 100 << 10} {
		fragmentsFit(t, size)
	}
}

func fragmentsFit(t *testing.T, message int) {
	t.Helper()
	const n = 3
	names := []string{"bottom", "encrypt", "bundle", "mnak", "sign", "pt2pt", "stable", "mflow", "frag"}
	sigs := groupKeys(t, n)
	stacks := make([]*layers.Stack, n)
	for r := range stacks {
		tree, err := keying.NewSecretTree(sigs[r].suite, bytes.Repeat([]byte{1}, sigs[r].suite.HashSize()), 4)
		if err != nil {
			t.Fatal(err)
		}
		cfg := layers.Config{View: layers.View{Group: 7, ID: 1 << 62, Rank: r, N: n}, Keys: &securedKeys{sigs[r], tree}}
		if stacks[r], err = compose.Build(cfg, names, compose.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	stacks[0].Cast(bytes.Repeat([]byte{7}, message))
	delivered := make([]bool, n)
	for range 200 {
		stacks[0].Flush()
		for _, p := range stacks[0].Ready().Packets {
			if len(p.Data) > layers.DefaultMaxDatagram {
				t.Fatalf("message of %d bytes: a datagram of %d bytes, over %d", message, len(p.Data), layers.DefaultMaxDatagram)
			}
			for r := 1; r < n; r++ {
				if !stacks[r].Receive(bytes.Clone(p.Data)) {
					t.Fatalf("member %d refused a datagram of %d bytes", r, len(p.Data))
				}
			}
		}
		stacks[0].Advance()
		all := true
		for r := 1; r < n; r++ {
			stacks[r].Flush()
			for _, d := range stacks[r].Ready().Deliveries {
				if len(d.Data) != message {
					t.Fatalf("member %d delivered %d bytes, want %d", r, len(d.Data), message)
				}
				delivered[r] = true
			}
			stacks[r].Advance()
			all = all && delivered[r]
		}
		if all {
			return
		}
	}
	t.Fatal("the message was not delivered")
}
