package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

type secretTreeVector struct {
	CipherSuite uint16 `json:"cipher_suite"`
	SenderData  struct {
		SenderDataSecret vhex `json:"sender_data_secret"`
		Ciphertext       vhex `json:"ciphertext"`
		Key              vhex `json:"key"`
		Nonce            vhex `json:"nonce"`
	} `json:"sender_data"`
	EncryptionSecret vhex `json:"encryption_secret"`
	Leaves           [][]struct {
		Generation       uint32 `json:"generation"`
		HandshakeKey     vhex   `json:"handshake_key"`
		HandshakeNonce   vhex   `json:"handshake_nonce"`
		ApplicationKey   vhex   `json:"application_key"`
		ApplicationNonce vhex   `json:"application_nonce"`
	} `json:"leaves"`
}

// TestVectorsSecretTree runs secret-tree.json: the sender data key and
// nonce, and for every leaf and listed generation the handshake and
// application keys and nonces, reached the way a receiver reaches them
// (ratcheting forward over skipped generations). A second tree hands the
// same generations out as Blocks, whose first datagram's nonce must be the
// generation's nonce.
func TestVectorsSecretTree(t *testing.T) {
	var cases []secretTreeVector
	readMLSVectors(t, "secret-tree.json", &cases)
	tally := newVectorTally(t, "secret-tree.json")
	checks := 0
	for _, c := range cases {
		s, ok := tally.suite(c.CipherSuite)
		if !ok {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			sd := c.SenderData
			key, nonce, err := SenderDataKeyNonce(s, crypto.Secret(sd.SenderDataSecret), sd.Ciphertext)
			if err != nil || !bytes.Equal(key, sd.Key) || !bytes.Equal(nonce, sd.Nonce) {
				t.Errorf("sender data key/nonce differ (%v)", err)
			}
			tree, err := NewSecretTree(s, crypto.Secret(c.EncryptionSecret).Clone(), uint32(len(c.Leaves)))
			if err != nil {
				t.Fatal(err)
			}
			blocks, err := NewSecretTree(s, crypto.Secret(c.EncryptionSecret).Clone(), uint32(len(c.Leaves)))
			if err != nil {
				t.Fatal(err)
			}
			for leaf, gens := range c.Leaves {
				for _, g := range gens {
					for _, kind := range []RatchetKind{HandshakeRatchet, ApplicationRatchet} {
						wantKey, wantNonce := g.HandshakeKey, g.HandshakeNonce
						if kind == ApplicationRatchet {
							wantKey, wantNonce = g.ApplicationKey, g.ApplicationNonce
						}
						r, err := tree.Ratchet(uint32(leaf), kind)
						if err != nil {
							t.Fatal(err)
						}
						k, err := r.Key(g.Generation)
						if err != nil || k.Generation != g.Generation || !bytes.Equal(k.Key, wantKey) || !bytes.Equal(k.Nonce, wantNonce) {
							t.Errorf("leaf %d %v generation %d: key/nonce differ (%v)", leaf, kind, g.Generation, err)
						}
						checks++
						// Block mode: the block's AEAD under nonce XOR 0 is the
						// generation's AEAD under its nonce.
						br, _ := blocks.Ratchet(uint32(leaf), kind)
						b, err := br.Block(g.Generation)
						if err != nil {
							t.Fatal(err)
						}
						_, sealed, err := b.Seal(nil, []byte("aad"), []byte("datagram"))
						if err != nil {
							t.Fatal(err)
						}
						a, _ := s.NewAEAD(crypto.Secret(wantKey))
						if pt, err := a.Open(nil, wantNonce, sealed, []byte("aad")); err != nil || string(pt) != "datagram" {
							t.Errorf("leaf %d %v generation %d: block datagram 0 not under the generation's key and nonce", leaf, kind, g.Generation)
						}
					}
				}
			}
			tree.Destroy()
			blocks.Destroy()
		})
	}
	t.Logf("secret-tree.json: %d (leaf, ratchet, generation) keys checked", checks)
}
