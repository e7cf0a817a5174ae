package keying

import (
	"bytes"
	"errors"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// stateFixture makes an epoch and a secret tree that has been used: a sender
// ratchet that handed out blocks, a receiver ratchet with kept keys.
func stateFixture(t testing.TB, s *crypto.Suite) (*Epoch, *SecretTree) {
	gc := testGroupContext(s, 4, "a", "b", "c")
	e, err := NewEpoch(s, bytes.Repeat(crypto.Secret{1}, s.HashSize()), nil, nil, &gc)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := e.NewSecretTree(4)
	if err != nil {
		t.Fatal(err)
	}
	own, _ := tree.Ratchet(0, ApplicationRatchet)
	for range 3 {
		if _, err := own.NextBlock(); err != nil {
			t.Fatal(err)
		}
	}
	other, _ := tree.Ratchet(2, HandshakeRatchet)
	if _, err := other.Key(5); err != nil {
		t.Fatal(err)
	}
	return e, tree
}

func TestEpochStateRoundTrip(t *testing.T) {
	for _, s := range allSuites(t) {
		e, tree := stateFixture(t, s)
		b, err := SaveEpochState(e, tree)
		if err != nil {
			t.Fatal(err)
		}
		e2, tree2, err := LoadEpochState(b)
		if err != nil {
			t.Fatalf("%v: %v", s, err)
		}
		b2, _ := SaveEpochState(e2, tree2)
		if !bytes.Equal(b, b2) {
			t.Fatalf("%v: state changed through save and load", s)
		}
		if !bytes.Equal(e2.ExporterSecret(), e.ExporterSecret()) || e2.Number() != 4 || e2.EncryptionSecret() != nil {
			t.Fatalf("%v: epoch differs after load", s)
		}
		// The receiver's kept keys and the unseeded leaves survive.
		r1, _ := tree.Ratchet(2, HandshakeRatchet)
		r2, _ := tree2.Ratchet(2, HandshakeRatchet)
		k1, _ := r1.Key(3)
		k2, err := r2.Key(3)
		if err != nil || !k1.Key.Equal(k2.Key) {
			t.Fatalf("%v: kept key lost: %v", s, err)
		}
		r1, _ = tree.Ratchet(3, ApplicationRatchet)
		r2, _ = tree2.Ratchet(3, ApplicationRatchet)
		k1, _ = r1.Key(0)
		k2, _ = r2.Key(0)
		if !k1.Key.Equal(k2.Key) {
			t.Fatalf("%v: unseeded leaf differs after load", s)
		}
		// Without a tree.
		b, _ = SaveEpochState(e, nil)
		if _, tr, err := LoadEpochState(b); err != nil || tr != nil {
			t.Fatalf("%v: state without tree: %v", s, err)
		}
	}
}

// TestRestoredSenderNeverReusesKeyNonce: a member that handed out a block,
// sealed part of it, saved its state and restarted, seals its next datagram
// in a new generation: no (key, nonce) pair it used before can come back.
func TestRestoredSenderNeverReusesKeyNonce(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 1, "a", "b")
	e, _ := NewEpoch(s, bytes.Repeat(crypto.Secret{2}, s.HashSize()), nil, nil, &gc)
	tree, _ := e.NewSecretTree(2)
	own, _ := tree.Ratchet(0, ApplicationRatchet)
	blk, _ := own.NextBlock()
	_, before, _ := blk.Seal(nil, nil, []byte("same plaintext"))

	saved, err := SaveEpochState(e, tree)
	if err != nil {
		t.Fatal(err)
	}
	_, restored, err := LoadEpochState(saved)
	if err != nil {
		t.Fatal(err)
	}
	own2, _ := restored.Ratchet(0, ApplicationRatchet)
	if own2.NextGeneration() != 1 {
		t.Fatalf("restored sender would start at generation %d", own2.NextGeneration())
	}
	blk2, _ := own2.NextBlock()
	if blk2.Generation == blk.Generation {
		t.Fatal("restored sender reuses a generation")
	}
	c, after, _ := blk2.Seal(nil, nil, []byte("same plaintext"))
	if c != 0 || bytes.Equal(before, after) {
		t.Fatal("restored sender sealed under the same key and nonce")
	}
	// A receiver that knows both generations opens both, each under its own.
	recvTree := newTestTreeFrom(t, s, &gc)
	rr, _ := recvTree.Ratchet(0, ApplicationRatchet)
	rb0, _ := rr.Block(0)
	rb1, _ := rr.Block(1)
	if _, err := rb0.Open(nil, 0, nil, before); err != nil {
		t.Fatal(err)
	}
	if _, err := rb1.Open(nil, 0, nil, after); err != nil {
		t.Fatal(err)
	}
}

func newTestTreeFrom(t *testing.T, s *crypto.Suite, gc *GroupContext) *SecretTree {
	e, _ := NewEpoch(s, bytes.Repeat(crypto.Secret{2}, s.HashSize()), nil, nil, gc)
	tree, err := e.NewSecretTree(2)
	if err != nil {
		t.Fatal(err)
	}
	return tree
}

func TestEpochStateStrict(t *testing.T) {
	s := allSuites(t)[0]
	e, tree := stateFixture(t, s)
	good, _ := SaveEpochState(e, tree)
	if _, _, err := LoadEpochState(append(bytes.Clone(good), 0)); !errors.Is(err, ErrEpochState) {
		t.Errorf("trailing byte: %v", err)
	}
	for i := range len(good) {
		if _, _, err := LoadEpochState(good[:i]); err == nil {
			t.Fatalf("truncated state (%d of %d bytes) accepted", i, len(good))
		}
	}
	bad := bytes.Clone(good)
	bad[0] = 9
	if _, _, err := LoadEpochState(bad); !errors.Is(err, ErrEpochState) {
		t.Errorf("unknown version: %v", err)
	}
	bad = bytes.Clone(good)
	bad[2] = 4 // suite 0x0004
	if _, _, err := LoadEpochState(bad); !errors.Is(err, ErrEpochState) {
		t.Errorf("unsupported suite: %v", err)
	}
	// Kept keys outside the window, or not behind the ratchet.
	r, _ := tree.Ratchet(2, HandshakeRatchet)
	for _, next := range []uint64{r.next + MaxRetainedKeys, 3} {
		saved := r.next
		r.next = next
		b, _ := SaveEpochState(e, tree)
		if _, _, err := LoadEpochState(b); !errors.Is(err, ErrEpochState) {
			t.Errorf("kept keys with next generation %d accepted: %v", next, err)
		}
		r.next = saved
	}
	// Leaves 0 and 2 of 4 are seeded; nodes 2 and 6 (leaves 1 and 3) are
	// stored. A stored secret for leaf 2 (node 4) would seed it twice; the
	// root would overlap the stored nodes.
	for _, n := range []uint32{4, 3} {
		tree.nodes[n] = bytes.Repeat(crypto.Secret{3}, s.HashSize())
		b, _ := SaveEpochState(e, tree)
		if _, _, err := LoadEpochState(b); !errors.Is(err, ErrEpochState) {
			t.Errorf("node %d stored over seeded leaves accepted: %v", n, err)
		}
		delete(tree.nodes, n)
	}
	if len(tree.nodes) != 2 || tree.nodes[2] == nil || tree.nodes[6] == nil {
		t.Fatalf("fixture has other stored nodes than 2 and 6")
	}
}

// FuzzLoadEpochState: whatever loads saves back to exactly the input.
func FuzzLoadEpochState(f *testing.F) {
	for _, id := range []crypto.SuiteID{crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519, crypto.MLS256DHKEMP521AES256GCMSHA512P521} {
		s, _ := crypto.LookupSuite(id)
		e, tree := stateFixture(f, s)
		b, _ := SaveEpochState(e, tree)
		f.Add([]byte(b))
		b, _ = SaveEpochState(e, nil)
		f.Add([]byte(b))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		e, tree, err := LoadEpochState(in)
		if err != nil {
			return
		}
		out, err := SaveEpochState(e, tree)
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip changed the encoding: %v", err)
		}
	})
}
