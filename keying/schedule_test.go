package keying

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// testRand is a deterministic randomness source.
func testRand(seed byte) *rand.ChaCha8 {
	var s [32]byte
	s[0] = seed
	return rand.NewChaCha8(s)
}

// allSuites returns every supported suite.
func allSuites(t testing.TB) []*crypto.Suite {
	var out []*crypto.Suite
	for _, id := range crypto.Suites() {
		s, err := crypto.LookupSuite(id)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func testGroupContext(s *crypto.Suite, epoch uint64, members ...string) GroupContext {
	gc := GroupContext{
		Suite:                   s.ID(),
		GroupID:                 []byte("group"),
		Epoch:                   epoch,
		TreeHash:                s.Hash([]byte("tree")),
		ConfirmedTranscriptHash: s.Hash([]byte("transcript")),
	}
	cc := ConclaveContext{ViewID: []byte{1, 2, 3}, PolicyHash: s.Hash([]byte("policy"))}
	for _, m := range members {
		cc.Members = append(cc.Members, []byte(m))
	}
	if err := gc.SetConclaveContext(&cc); err != nil {
		panic(err)
	}
	return gc
}

// TestEpochBindsConclaveContext: two members with the same inputs agree on
// every secret, and a member that sees another member list derives other
// secrets, in every suite including the post-quantum one.
func TestEpochBindsConclaveContext(t *testing.T) {
	for _, s := range allSuites(t) {
		init, _ := NewInitSecret(s, testRand(1))
		gcA := testGroupContext(s, 1, "a", "b")
		gcB := testGroupContext(s, 1, "a", "b")
		gcC := testGroupContext(s, 1, "a", "c")
		a, err := NewEpoch(s, init, nil, nil, &gcA)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := NewEpoch(s, init, nil, nil, &gcB)
		c, _ := NewEpoch(s, init, nil, nil, &gcC)
		for i, p := range a.secrets() {
			if !bytes.Equal(*p, *b.secrets()[i]) {
				t.Errorf("%v: secret %d differs between equal inputs", s, i)
			}
			if i != 0 && i != 1 && bytes.Equal(*p, *c.secrets()[i]) {
				t.Errorf("%v: secret %d does not depend on the member list", s, i)
			}
		}
		// The next epoch chains from the init secret.
		gc2 := testGroupContext(s, 2, "a", "b")
		n, err := a.Next(crypto.Secret(bytes.Repeat([]byte{7}, s.HashSize())), nil, &gc2)
		if err != nil {
			t.Fatal(err)
		}
		direct, _ := NewEpoch(s, a.InitSecret(), crypto.Secret(bytes.Repeat([]byte{7}, s.HashSize())), nil, &gc2)
		if !bytes.Equal(n.ExporterSecret(), direct.ExporterSecret()) || bytes.Equal(n.ExporterSecret(), a.ExporterSecret()) {
			t.Errorf("%v: Next does not chain through the init secret", s)
		}
		// A joiner that only has the joiner secret reaches the same epoch.
		j, err := JoinEpoch(s, n.JoinerSecret().Clone(), nil, &gc2)
		if err != nil || !bytes.Equal(j.EpochAuthenticator(), n.EpochAuthenticator()) {
			t.Errorf("%v: joiner derives another epoch (%v)", s, err)
		}
	}
}

func TestEpochExportAndConfirmation(t *testing.T) {
	for _, s := range allSuites(t) {
		gc := testGroupContext(s, 0, "a")
		init, _ := NewInitSecret(s, testRand(2))
		e, err := NewEpoch(s, init, nil, nil, &gc)
		if err != nil {
			t.Fatal(err)
		}
		x1, _ := e.Export("app", []byte("ctx"), 32)
		x2, _ := e.Export("app", []byte("ctx"), 32)
		x3, _ := e.Export("app", []byte("cty"), 32)
		x4, _ := e.Export("other", []byte("ctx"), 32)
		if !bytes.Equal(x1, x2) || bytes.Equal(x1, x3) || bytes.Equal(x1, x4) || len(x1) != 32 {
			t.Errorf("%v: exporter not a function of label and context", s)
		}
		if _, err := e.Export("app", nil, 1<<16); err == nil {
			t.Errorf("%v: export longer than a uint16 accepted", s)
		}
		cth := s.Hash([]byte("confirmed"))
		tag := e.ConfirmationTag(cth)
		if !e.VerifyConfirmationTag(cth, tag) {
			t.Errorf("%v: own confirmation tag refused", s)
		}
		bad := bytes.Clone(tag)
		bad[0] ^= 1
		if e.VerifyConfirmationTag(cth, bad) || e.VerifyConfirmationTag(cth, tag[:len(tag)-1]) {
			t.Errorf("%v: altered confirmation tag accepted", s)
		}
		if _, err := e.ExternalKeyPair(); err != nil {
			t.Errorf("%v: external key pair: %v", s, err)
		}
	}
}

func TestEpochRefusesBadInputs(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 0, "a")
	if _, err := NewEpoch(s, make(crypto.Secret, 5), nil, nil, &gc); !errors.Is(err, ErrSecretSize) {
		t.Errorf("short init secret: %v", err)
	}
	init := make(crypto.Secret, s.HashSize())
	if _, err := NewEpoch(s, init, make(crypto.Secret, 3), nil, &gc); !errors.Is(err, ErrSecretSize) {
		t.Errorf("short commit secret: %v", err)
	}
	other := allSuites(t)[1]
	if _, err := NewEpoch(other, make(crypto.Secret, other.HashSize()), nil, nil, &gc); !errors.Is(err, ErrSuiteChange) {
		t.Errorf("suite mismatch: %v", err)
	}
	e, _ := NewEpoch(s, init, nil, nil, &gc)
	if _, err := e.NewSecretTree(4); err != nil {
		t.Fatal(err)
	}
	if _, err := e.NewSecretTree(4); !errors.Is(err, ErrTreeTaken) {
		t.Errorf("second secret tree from one epoch: %v", err)
	}
}

// TestEpochDestroyZeros: every secret the epoch handed out is zero after
// Destroy, and the epoch refuses further use.
func TestEpochDestroyZeros(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 0, "a")
	e, _ := NewEpoch(s, make(crypto.Secret, s.HashSize()), nil, nil, &gc)
	var held []crypto.Secret
	for _, p := range e.secrets() {
		held = append(held, *p)
	}
	e.Destroy()
	for i, h := range held {
		if !bytes.Equal(h, make([]byte, len(h))) || len(h) == 0 {
			t.Errorf("secret %d not zeroed", i)
		}
	}
	if _, err := e.Export("x", nil, 16); !errors.Is(err, ErrEpochGone) {
		t.Errorf("export after destroy: %v", err)
	}
	if _, err := e.Next(nil, nil, &gc); !errors.Is(err, ErrEpochGone) {
		t.Errorf("next after destroy: %v", err)
	}
}

func TestEpochNeverPrints(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 0, "a")
	e, _ := NewEpoch(s, bytes.Repeat(crypto.Secret{0xab}, s.HashSize()), nil, nil, &gc)
	tree, _ := e.NewSecretTree(2)
	r, _ := tree.Ratchet(0, ApplicationRatchet)
	b, _ := r.NextBlock()
	type holder struct {
		E *Epoch
		V Epoch
		T *SecretTree
		R *Ratchet
		B *Block
	}
	h := holder{e, *e, tree, r, b}
	out := fmt.Sprintf("%v %+v %#v %s %x", h, h, h, *e, *e)
	for _, p := range e.secrets() {
		if len(*p) > 0 && strings.Contains(out, fmt.Sprintf("%x", []byte(*p))) {
			t.Fatalf("a secret was printed: %s", out)
		}
	}
	if strings.Contains(out, "[") && strings.Contains(out, " 171 ") {
		t.Fatalf("secret bytes printed: %s", out)
	}
	if !strings.Contains(out, "redacted") {
		t.Fatalf("no redaction: %s", out)
	}
}

func lookupTestSuite() (*crypto.Suite, error) {
	return crypto.LookupSuite(crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
}
