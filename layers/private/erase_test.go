package private

import (
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/pt2pt"
)

type testKeys struct {
	suite *crypto.Suite
	pubs  []*crypto.KEMPublicKey
	priv  *crypto.KEMPrivateKey
}

func (k *testKeys) PairSuite() *crypto.Suite                      { return k.suite }
func (k *testKeys) PairEpoch() uint64                             { return 1 }
func (k *testKeys) PairPublicKey(r int) *crypto.KEMPublicKey      { return k.pubs[r] }
func (k *testKeys) PairPrivateKey() *crypto.KEMPrivateKey         { return k.priv }
func (k *testKeys) Release()                                      {}
func (k *testKeys) SenderSign(string, []byte) ([]byte, error)     { return []byte{1}, nil }
func (k *testKeys) SenderVerify(int, string, []byte, []byte) bool { return true }

// TestViewEndErases: at the end of the view the layer zeroes every pair
// key it holds, and sends nothing afterwards.
func TestViewEndErases(t *testing.T) {
	suite, err := crypto.LookupSuite(crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	priv, err := suite.GenerateKeyPair(rand.NewChaCha8([32]byte{1}))
	if err != nil {
		t.Fatal(err)
	}
	keys := &testKeys{suite: suite, pubs: []*crypto.KEMPublicKey{priv.PublicKey(), priv.PublicKey()}, priv: priv}
	l := New(Config{})
	s, err := layers.New(layers.Config{View: layers.View{Group: 1, ID: 1, N: 2}, Keys: keys}, bottom.New(), pt2pt.New(pt2pt.Config{}), l)
	if err != nil {
		t.Fatal(err)
	}
	s.Send(1, []byte("x"))
	key, nonce := l.out[1].key, l.out[1].nonce
	if l.out[1].aead == nil || len(key) == 0 || len(nonce) == 0 {
		t.Fatal("no pair key after a send")
	}
	s.Advance()
	s.EndView()
	for _, b := range append(append([]byte(nil), key...), nonce...) {
		if b != 0 {
			t.Fatal("a pair key survives the end of the view")
		}
	}
	if l.out[1].aead != nil {
		t.Error("the AEAD survives the end of the view")
	}
	s.Send(1, []byte("after"))
	if n := len(s.Ready().Packets); n != 0 {
		t.Errorf("%d packets sent after the end of the view", n)
	}
}
