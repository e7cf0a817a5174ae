package secure

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/keying"
)

// The keys an installed view hands its stack carry this member's rank, its
// signature and leaf private keys, and every member's public halves by
// rank, as the epoch's ratchet tree holds them; releasing them erases the
// private keys and leaves the group state, which the next epoch needs,
// intact.
func TestEpochKeysFilledAndReleased(t *testing.T) {
	ps, states := twoMemberEpoch(t)
	keys := make([]*EpochKeys, 2)
	for i, p := range ps {
		k, err := p.epochKeys(states[i])
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
		if k.Rank != i || k.Leaves[k.Rank] != k.Leaf || k.Tree == nil {
			t.Fatalf("member %d: rank %d, leaf %d of %v", i, k.Rank, k.Leaf, k.Leaves)
		}
		if len(k.SignatureKeys) != 2 || len(k.LeafPublicKeys) != 2 {
			t.Fatalf("member %d: %d signature keys, %d leaf keys for 2 members", i, len(k.SignatureKeys), len(k.LeafPublicKeys))
		}
		if k.SigningKey == nil || !bytes.Equal(k.SigningKey.PublicKey(), k.SignatureKeys[k.Rank]) {
			t.Fatalf("member %d: signing key is not its leaf's", i)
		}
		if k.LeafPrivateKey == nil || !bytes.Equal(k.LeafPrivateKey.PublicKey().Bytes(), k.LeafPublicKeys[k.Rank]) {
			t.Fatalf("member %d: leaf private key is not its leaf's", i)
		}
	}
	// Every member names the same public keys by rank, each one the key
	// its holder signs and decrypts with.
	for i := range 2 {
		for j := range 2 {
			r := keys[j].Rank
			if !bytes.Equal(keys[i].SignatureKeys[r], keys[j].SigningKey.PublicKey()) || !bytes.Equal(keys[i].LeafPublicKeys[r], keys[j].LeafPrivateKey.PublicKey().Bytes()) {
				t.Fatalf("member %d's keys for rank %d are not member %d's", i, r, j)
			}
		}
	}
	for i, k := range keys {
		k.Release()
		if k.Tree != nil || k.SigningKey != nil || k.LeafPrivateKey != nil {
			t.Fatalf("member %d: released keys still hold secrets", i)
		}
		k.Release() // twice does nothing
		p := ps[i]
		if lk := states[i].group.LeafKey(); lk == nil || !bytes.Equal(lk.PublicKey().Bytes(), k.LeafPublicKeys[k.Rank]) {
			t.Fatalf("member %d: releasing the stack's keys erased the group's leaf key", i)
		}
		if _, err := p.signingKey(); err != nil {
			t.Fatalf("member %d: releasing the stack's keys erased the signature key: %v", i, err)
		}
	}
}

// twoMemberEpoch makes two participants and the epoch of a group of both,
// as each holds it, with leaves 0 and 1 at ranks 0 and 1.
func twoMemberEpoch(t *testing.T) ([]*Participant, []*epochState) {
	t.Helper()
	ps := make([]*Participant, 2)
	for i := range ps {
		rnd := rand.NewChaCha8([32]byte{byte(i), 'k', 'e', 'y', 's'})
		key, err := noise.GenerateKey(rnd)
		if err != nil {
			t.Fatal(err)
		}
		p, err := New(Config{Credential: noise.NewCredential(key), Admit: func(auth.Identity) error { return nil }, Group: "test", Rand: rnd})
		if err != nil {
			t.Fatal(err)
		}
		ps[i] = p
	}
	kp0, kps0, err := ps[0].newKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	g0, err := keying.NewGroup(ps[0].suite, []byte("test"), kp0, kps0, nil, ps[0].cfg.Rand)
	if err != nil {
		t.Fatal(err)
	}
	kp1, kps1, err := ps[1].newKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	res, err := g0.Commit([]keying.Proposal{{Type: keying.ProposalAdd, KeyPackage: kp1}}, nil, ps[0].cfg.Rand)
	if err != nil {
		t.Fatal(err)
	}
	g1, err := keying.Join(ps[1].suite, res.Welcomes[0], kp1, kps1)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g0.Destroy(); g1.Destroy() })
	leaves := []uint32{0, 1}
	return ps, []*epochState{{group: g0, leaves: leaves}, {group: g1, leaves: leaves}}
}

// The members' public keys share one buffer, each cut at its end: a
// layer that appends to one of them cannot change another.
func TestEpochKeysPublicKeysApart(t *testing.T) {
	ps, states := twoMemberEpoch(t)
	k, err := ps[0].epochKeys(states[0])
	if err != nil {
		t.Fatal(err)
	}
	defer k.Release()
	for r := range 2 {
		_ = append(k.SignatureKeys[r], make([]byte, 64)...)
		_ = append(k.LeafPublicKeys[r], make([]byte, 64)...)
	}
	for r := range 2 {
		l := states[0].leaf(r)
		if !bytes.Equal(k.SignatureKeys[r], l.SignatureKey) || !bytes.Equal(k.LeafPublicKeys[r], l.EncryptionKey) {
			t.Fatalf("rank %d: a public key changed by an append to another", r)
		}
	}
}
