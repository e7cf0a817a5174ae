package keying

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

func newTestTree(t testing.TB, s *crypto.Suite, leaves uint32) *SecretTree {
	t.Helper()
	tree, err := NewSecretTree(s, bytes.Repeat(crypto.Secret{0x5a}, s.HashSize()), leaves)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestSecretTreeLeafCount(t *testing.T) {
	s := allSuites(t)[0]
	for _, n := range []uint32{0, 3, 6, maxSecretTreeLeaves * 2} {
		if _, err := NewSecretTree(s, make(crypto.Secret, s.HashSize()), n); !errors.Is(err, ErrLeafCount) {
			t.Errorf("leaf count %d: %v", n, err)
		}
	}
	tree := newTestTree(t, s, 4)
	if _, err := tree.Ratchet(4, HandshakeRatchet); !errors.Is(err, ErrLeafIndex) {
		t.Errorf("leaf 4 of 4: %v", err)
	}
	if _, err := tree.Ratchet(0, 2); !errors.Is(err, ErrRatchetKind) {
		t.Errorf("kind 2: %v", err)
	}
}

// TestSecretTreeDeletesSecrets: seeding a leaf keeps only the off-path
// children of its path, deletes (and zeros) every parent and the leaf's own
// secret, and advancing a ratchet zeros the old ratchet secret.
func TestSecretTreeDeletesSecrets(t *testing.T) {
	s := allSuites(t)[0]
	tree := newTestTree(t, s, 8)
	root := tree.nodes[7]
	if _, err := tree.Ratchet(0, ApplicationRatchet); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(root, make([]byte, len(root))) {
		t.Error("root secret not zeroed after split")
	}
	// Leaf 0 is node 0; its copath is nodes 2, 5 and 11.
	if len(tree.nodes) != 3 || tree.nodes[2] == nil || tree.nodes[5] == nil || tree.nodes[11] == nil {
		t.Errorf("stored nodes after seeding leaf 0: %d", len(tree.nodes))
	}
	// Seeding leaf 1 consumes node 2; leaf 3 splits node 5.
	tree.Ratchet(1, HandshakeRatchet)
	tree.Ratchet(3, HandshakeRatchet)
	if _, ok := tree.nodes[2]; ok {
		t.Error("leaf 1's secret kept after seeding")
	}
	if _, ok := tree.nodes[5]; ok || tree.nodes[4] == nil {
		t.Error("node 5 kept after split, or node 4 (leaf 2) lost")
	}

	r, _ := tree.Ratchet(0, ApplicationRatchet)
	old := r.secret
	k, err := r.Next()
	if err != nil || k.Generation != 0 {
		t.Fatal(err)
	}
	if !bytes.Equal(old, make([]byte, len(old))) {
		t.Error("ratchet secret not zeroed once advanced")
	}
	tree.Destroy()
	if _, err := tree.Ratchet(0, ApplicationRatchet); !errors.Is(err, ErrSecretTreeGone) {
		t.Errorf("ratchet after destroy: %v", err)
	}
}

// TestRatchetOutOfOrder: a receiver gets each generation's key exactly
// once, in any order within the window.
func TestRatchetOutOfOrder(t *testing.T) {
	s := allSuites(t)[0]
	send, _ := newTestTree(t, s, 2).Ratchet(1, ApplicationRatchet)
	recv, _ := newTestTree(t, s, 2).Ratchet(1, ApplicationRatchet)
	var sent []KeyNonce
	for range 10 {
		k, err := send.Next()
		if err != nil {
			t.Fatal(err)
		}
		sent = append(sent, k)
	}
	for _, g := range []uint32{5, 3, 9, 0, 1, 2, 4, 8, 6, 7} {
		k, err := recv.Key(g)
		if err != nil || !k.Key.Equal(sent[g].Key) || !k.Nonce.Equal(sent[g].Nonce) {
			t.Fatalf("generation %d: wrong key (%v)", g, err)
		}
		if _, err := recv.Key(g); !errors.Is(err, ErrGenerationGone) {
			t.Fatalf("generation %d handed out twice: %v", g, err)
		}
	}
	if len(recv.skipped) != 0 {
		t.Errorf("%d keys kept after all were used", len(recv.skipped))
	}
}

// TestRatchetRefusesFarAhead: a generation more than MaxForwardGenerations
// ahead is refused before any derivation: the ratchet has not moved.
func TestRatchetRefusesFarAhead(t *testing.T) {
	s := allSuites(t)[0]
	r, _ := newTestTree(t, s, 1).Ratchet(0, HandshakeRatchet)
	before := bytes.Clone(r.secret)
	for _, g := range []uint32{MaxForwardGenerations + 1, 1 << 31, 1<<32 - 1} {
		if _, err := r.Key(g); !errors.Is(err, ErrGenerationAhead) {
			t.Fatalf("generation %d: %v", g, err)
		}
	}
	if r.next != 0 || len(r.skipped) != 0 || !bytes.Equal(r.secret, before) {
		t.Fatal("a refused generation changed the ratchet")
	}
	if _, err := r.Key(MaxForwardGenerations); err != nil {
		t.Fatalf("generation at the bound refused: %v", err)
	}
}

// TestRatchetWindow: keys kept for out-of-order arrival never exceed
// MaxRetainedKeys, and the oldest are deleted.
func TestRatchetWindow(t *testing.T) {
	s := allSuites(t)[0]
	r, _ := newTestTree(t, s, 1).Ratchet(0, ApplicationRatchet)
	for g := uint32(1000); g <= 4000; g += 1000 {
		if _, err := r.Key(g); err != nil {
			t.Fatal(err)
		}
		if len(r.skipped) > MaxRetainedKeys {
			t.Fatalf("%d keys kept", len(r.skipped))
		}
	}
	// The ratchet's next generation is 4001: it keeps 4001-MaxRetainedKeys
	// and later, and nothing before.
	oldest := uint32(4001 - MaxRetainedKeys)
	for _, g := range []uint32{0, 999, oldest - 1} {
		if _, err := r.Key(g); !errors.Is(err, ErrGenerationGone) {
			t.Errorf("generation %d, behind the window, is still served: %v", g, err)
		}
	}
	for _, g := range []uint32{oldest, 3999} {
		if _, err := r.Key(g); err != nil {
			t.Errorf("generation %d, inside the window, is not served: %v", g, err)
		}
	}
}

func TestRatchetExhaustion(t *testing.T) {
	s := allSuites(t)[0]
	r, _ := newTestTree(t, s, 1).Ratchet(0, ApplicationRatchet)
	r.next = generationLimit - 1 // the last generation
	if k, err := r.Next(); err != nil || k.Generation != 1<<32-1 {
		t.Fatalf("last generation: %v", err)
	}
	if _, err := r.Next(); !errors.Is(err, ErrRatchetExhausted) {
		t.Fatalf("past the last generation: %v", err)
	}
}

// TestNoKeyNonceReuse: in one epoch, no two (sender, ratchet, generation)
// triples give the same key or the same (key, nonce) pair, whatever order a
// receiver asks for them in.
func TestNoKeyNonceReuse(t *testing.T) {
	for _, s := range allSuites(t) {
		const leaves, gens = 16, 40
		tree := newTestTree(t, s, leaves)
		keys := map[string]bool{}
		pairs := map[string]bool{}
		rng := rand.New(rand.NewPCG(1, 2))
		type req struct {
			leaf uint32
			kind RatchetKind
			gen  uint32
		}
		var reqs []req
		for l := range uint32(leaves) {
			for _, k := range []RatchetKind{HandshakeRatchet, ApplicationRatchet} {
				for g := range uint32(gens) {
					reqs = append(reqs, req{l, k, g})
				}
			}
		}
		rng.Shuffle(len(reqs), func(i, j int) { reqs[i], reqs[j] = reqs[j], reqs[i] })
		for _, q := range reqs {
			r, err := tree.Ratchet(q.leaf, q.kind)
			if err != nil {
				t.Fatal(err)
			}
			k, err := r.Key(q.gen)
			if err != nil {
				t.Fatalf("%v: %+v: %v", s, q, err)
			}
			if keys[string(k.Key)] || pairs[string(k.Key)+string(k.Nonce)] {
				t.Fatalf("%v: key reused at %+v", s, q)
			}
			keys[string(k.Key)] = true
			pairs[string(k.Key)+string(k.Nonce)] = true
		}
		if len(keys) != leaves*2*gens {
			t.Fatalf("%v: %d distinct keys", s, len(keys))
		}
	}
}

// TestBlock: a block seals exactly DatagramsPerBlock datagrams, each under
// its own nonce, which the receiver's block of the same generation opens
// only at the right counter.
func TestBlock(t *testing.T) {
	for _, s := range allSuites(t) {
		send, _ := newTestTree(t, s, 2).Ratchet(0, ApplicationRatchet)
		recv, _ := newTestTree(t, s, 2).Ratchet(0, ApplicationRatchet)
		b, err := send.NextBlock()
		if err != nil {
			t.Fatal(err)
		}
		if send.NextGeneration() != 1 {
			t.Fatal("NextBlock did not move the ratchet past its generation")
		}
		rb, err := recv.Block(b.Generation)
		if err != nil {
			t.Fatal(err)
		}
		nonces := map[[12]byte]bool{}
		var first, last []byte
		for i := range DatagramsPerBlock {
			c, out, err := b.Seal(nil, []byte("aad"), []byte("m"))
			if err != nil || int(c) != i {
				t.Fatalf("datagram %d: counter %d, %v", i, c, err)
			}
			n := [12]byte(b.nonceFor(c))
			if nonces[n] {
				t.Fatalf("nonce reused at counter %d", c)
			}
			nonces[n] = true
			if i == 0 {
				first = out
			}
			last = out
		}
		if _, _, err := b.Seal(nil, nil, nil); !errors.Is(err, ErrBlockExhausted) || b.Remaining() != 0 {
			t.Fatalf("seal past the block: %v", err)
		}
		if pt, err := rb.Open(nil, 0, []byte("aad"), first); err != nil || string(pt) != "m" {
			t.Fatalf("open datagram 0: %v", err)
		}
		if pt, err := rb.Open(nil, DatagramsPerBlock-1, []byte("aad"), last); err != nil || string(pt) != "m" {
			t.Fatalf("open last datagram: %v", err)
		}
		if _, err := rb.Open(nil, 1, []byte("aad"), first); !errors.Is(err, ErrOpen) {
			t.Fatalf("datagram opened at another counter: %v", err)
		}
		if _, err := rb.Open(nil, 0, []byte("aae"), first); !errors.Is(err, ErrOpen) {
			t.Fatalf("datagram opened with other aad: %v", err)
		}
		if _, err := rb.Open(nil, DatagramsPerBlock, []byte("aad"), first); !errors.Is(err, ErrBlockCounter) {
			t.Fatalf("counter past the block: %v", err)
		}
		rb.Destroy()
		if _, err := rb.Open(nil, 0, []byte("aad"), first); err == nil {
			t.Fatal("destroyed block opened a datagram")
		}
	}
}
