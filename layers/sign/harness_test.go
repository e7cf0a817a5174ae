package sign_test

import (
	"errors"
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/sign"
)

// Signed is the reliable stack with sender authentication, bottom first.
var signed = []string{"bottom", "bundle", "mnak", "sign", "pt2pt", "stable", "mflow", "frag"}

// plain is the same stack without it.
var plain = []string{"bottom", "bundle", "mnak", "pt2pt", "stable", "mflow", "frag"}

// testKeys are a view's signature keys as one member holds them: its own
// private key and every member's public key, through the suite's labelled
// signatures as the secure group's keys use them.
type testKeys struct {
	suite    *crypto.Suite
	own      *crypto.SigningKey
	pubs     [][]byte
	released bool
}

func (k *testKeys) Release() { k.released = true }

func (k *testKeys) SenderSign(label string, content []byte) ([]byte, error) {
	if k.released {
		return nil, errors.New("test: keys released")
	}
	return k.suite.SignWithLabel(k.own, label, content)
}

func (k *testKeys) SenderVerify(rank int, label string, content, sig []byte) bool {
	if rank < 0 || rank >= len(k.pubs) {
		return false
	}
	return k.suite.VerifyWithLabel(k.pubs[rank], label, content, sig) == nil
}

var _ sign.Keys = (*testKeys)(nil)

// groupKeys makes the signature keys of n members, and for each member its
// view of them.
func groupKeys(t testing.TB, n int) []*testKeys {
	t.Helper()
	suite, err := crypto.LookupSuite(crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{1})
	privs := make([]*crypto.SigningKey, n)
	pubs := make([][]byte, n)
	for r := range n {
		if privs[r], err = suite.GenerateSigningKey(rng); err != nil {
			t.Fatal(err)
		}
		pubs[r] = privs[r].PublicKey()
	}
	ks := make([]*testKeys, n)
	for r := range n {
		ks[r] = &testKeys{suite: suite, own: privs[r], pubs: pubs}
	}
	return ks
}

// build makes the stack of member rank in a view of n with the named
// layers and keys (nil: none).
func build(t testing.TB, rank, n int, names []string, opts compose.Options, keys layers.Keys) *layers.Stack {
	t.Helper()
	s, err := compose.Build(layers.Config{View: layers.View{Group: lt.Group, ID: lt.ViewID, N: n, Rank: rank}, Seed: 1, Keys: keys}, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newNet is a group of n members on the test network, each with its keys.
func newNet(t testing.TB, n int, names []string, opts compose.Options) (*lt.Net, []*testKeys) {
	t.Helper()
	nw := lt.NewNet(t, n, names, opts)
	ks := groupKeys(t, n)
	for r := range n {
		nw.Members[r] = build(t, r, n, names, opts, ks[r])
	}
	return nw, ks
}

func withSign(cfg sign.Config) compose.Options {
	return compose.Options{Layers: map[string]any{"sign": cfg}}
}
