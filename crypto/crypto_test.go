package crypto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// seeded is a deterministic randomness source for key generation.
func seeded(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

func TestSecretNeverPrints(t *testing.T) {
	s := Secret{0xde, 0xad, 0xbe, 0xef}
	type holder struct {
		S Secret
		L []Secret
	}
	outs := []string{
		fmt.Sprintf("%v %+v %#v %s %x %X %q %d", s, s, s, s, s, s, s, s),
		fmt.Sprint(s), fmt.Sprintln(s),
		fmt.Sprintf("%v %+v %#v", holder{s, []Secret{s}}, holder{s, nil}, &holder{s, nil}),
		s.String(), s.GoString(),
	}
	j, err := json.Marshal(holder{s, []Secret{s}})
	if err != nil {
		t.Fatal(err)
	}
	outs = append(outs, string(j))
	txt, _ := s.MarshalText()
	outs = append(outs, string(txt))
	for _, o := range outs {
		if strings.Contains(strings.ToLower(o), "dead") || strings.Contains(o, "222") || strings.Contains(o, "\xde") {
			t.Errorf("secret bytes printed: %q", o)
		}
		if !strings.Contains(o, "redacted") {
			t.Errorf("no redaction marker in %q", o)
		}
	}
}

func TestSecretZeroAndDestroy(t *testing.T) {
	b := []byte{1, 2, 3}
	s := Secret(b)
	s.Zero()
	if !bytes.Equal(b, []byte{0, 0, 0}) {
		t.Fatalf("Zero left %v", b)
	}
	b = []byte{4, 5}
	s = Secret(b)
	s.Destroy()
	if s != nil || !bytes.Equal(b, []byte{0, 0}) {
		t.Fatalf("Destroy left %v, %v", b, []byte(s))
	}
	if !(Secret{1, 2}).Equal(Secret{1, 2}) || (Secret{1, 2}).Equal(Secret{1, 3}) {
		t.Fatal("Equal wrong")
	}
}

func TestPrivateKeysNeverPrint(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		k, err := s.GenerateKeyPair(seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		sk, err := s.GenerateSigningKey(seeded(2))
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := k.Bytes()
		sb, _ := sk.Bytes()
		for _, o := range []string{
			fmt.Sprintf("%v %+v %#v %s %x", k, k, k, k, k),
			fmt.Sprintf("%v %+v %#v %s %x", sk, sk, sk, sk, sk),
		} {
			if strings.Contains(o, fmt.Sprintf("%x", []byte(kb))) || strings.Contains(o, fmt.Sprintf("%x", []byte(sb))) || !strings.Contains(o, "redacted") {
				t.Errorf("%v: private key printed: %q", id, o)
			}
		}
	}
}

func TestLookupSuite(t *testing.T) {
	for _, id := range Suites() {
		s, err := LookupSuite(id)
		if err != nil || s.ID() != id || s.String() != id.String() {
			t.Errorf("LookupSuite(%v) = %v, %v", id, s, err)
		}
	}
	for _, id := range []SuiteID{4, 6} {
		if _, err := LookupSuite(id); !errors.Is(err, ErrX448Unavailable) {
			t.Errorf("LookupSuite(%d) err = %v", id, err)
		}
	}
	if _, err := LookupSuite(0x0100); !errors.Is(err, ErrUnknownSuite) {
		t.Errorf("unknown suite err = %v", err)
	}
	if id := ConclaveXWingAES256GCMSHA256Ed25519; id < 0xF000 {
		t.Errorf("hybrid suite %#04x outside the private-use range", uint16(id))
	}
}

func TestKeyGenerationIsDeterministic(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		a, _ := s.GenerateKeyPair(seeded(7))
		b, _ := s.GenerateKeyPair(seeded(7))
		c, _ := s.GenerateKeyPair(seeded(8))
		if !a.PublicKey().Equal(b.PublicKey()) || a.PublicKey().Equal(c.PublicKey()) {
			t.Errorf("%v: KEM key generation not a function of the reader", id)
		}
		x, _ := s.GenerateSigningKey(seeded(7))
		y, _ := s.GenerateSigningKey(seeded(7))
		if !bytes.Equal(x.PublicKey(), y.PublicKey()) {
			t.Errorf("%v: signing key generation not a function of the reader", id)
		}
	}
}

func TestEncryptSignRoundTrip(t *testing.T) {
	for _, id := range Suites() {
		t.Run(id.String(), func(t *testing.T) {
			s, _ := LookupSuite(id)
			k, err := s.GenerateKeyPair(seeded(3))
			if err != nil {
				t.Fatal(err)
			}
			// A private key survives serialisation.
			kb, _ := k.Bytes()
			k2, err := s.ParseKEMPrivateKey(kb)
			if err != nil || !k2.PublicKey().Equal(k.PublicKey()) {
				t.Fatalf("private key round trip: %v", err)
			}
			pub, err := s.ParseKEMPublicKey(k.PublicKey().Bytes())
			if err != nil {
				t.Fatal(err)
			}
			enc, ct, err := s.EncryptWithLabel(pub, "UpdatePathNode", []byte("ctx"), []byte("path secret"))
			if err != nil {
				t.Fatal(err)
			}
			pt, err := s.DecryptWithLabel(k2, "UpdatePathNode", []byte("ctx"), enc, ct)
			if err != nil || string(pt) != "path secret" {
				t.Fatalf("decrypt = %q, %v", pt, err)
			}
			if _, err := s.DecryptWithLabel(k2, "Welcome", []byte("ctx"), enc, ct); !errors.Is(err, ErrDecrypt) {
				t.Errorf("wrong label decrypted: %v", err)
			}
			if _, err := s.DecryptWithLabel(k2, "UpdatePathNode", []byte("cty"), enc, ct); !errors.Is(err, ErrDecrypt) {
				t.Errorf("wrong context decrypted: %v", err)
			}
			if _, err := s.DecryptWithLabel(k2, "UpdatePathNode", []byte("ctx"), enc[:len(enc)-1], ct); !errors.Is(err, ErrDecrypt) {
				t.Errorf("short kem output decrypted: %v", err)
			}

			sk, _ := s.GenerateSigningKey(seeded(4))
			sig, err := s.SignWithLabel(sk, "LeafNodeTBS", []byte("content"))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey(), "LeafNodeTBS", []byte("content"), sig); err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey(), "LeafNodeTBS", []byte("contenu"), sig); !errors.Is(err, ErrSignature) {
				t.Errorf("altered content verified: %v", err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey(), "KeyPackageTBS", []byte("content"), sig); !errors.Is(err, ErrSignature) {
				t.Errorf("other label verified: %v", err)
			}
			if err := s.VerifyWithLabel(sk.PublicKey()[1:], "LeafNodeTBS", []byte("content"), sig); err == nil {
				t.Errorf("truncated public key verified")
			}
			sb, _ := sk.Bytes()
			sk2, err := s.ParseSigningKey(sb)
			if err != nil || !bytes.Equal(sk2.PublicKey(), sk.PublicKey()) {
				t.Fatalf("signing key round trip: %v", err)
			}
		})
	}
}

func TestMACAndAEAD(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		key := Secret(bytes.Repeat([]byte{1}, s.HashSize()))
		tag := s.MAC(key, []byte("hash"))
		if !s.VerifyMAC(key, []byte("hash"), tag) || s.VerifyMAC(key, []byte("hasH"), tag) || s.VerifyMAC(key, []byte("hash"), tag[1:]) {
			t.Errorf("%v: VerifyMAC wrong", id)
		}
		a, err := s.NewAEAD(make(Secret, s.KeySize()))
		if err != nil || a.NonceSize() != s.NonceSize() || a.Overhead() != s.Overhead() {
			t.Errorf("%v: NewAEAD = %v", id, err)
		}
		if _, err := s.NewAEAD(make(Secret, s.KeySize()+1)); err == nil {
			t.Errorf("%v: wrong key size accepted", id)
		}
		if _, err := s.ExpandWithLabel(key, "x", nil, 255*s.HashSize()+1); !errors.Is(err, ErrLength) {
			t.Errorf("%v: over-long expand accepted", id)
		}
	}
}

// TestZeroingKeyBytesLeavesKeyIntact checks that the bytes Bytes hands out
// and the bytes ParseKEMPrivateKey is given are the caller's to zero: a key
// that kept either (X-Wing's does, in the standard library) would serialise
// as zeros, or stop decrypting, once the caller erased its copy.
func TestZeroingKeyBytesLeavesKeyIntact(t *testing.T) {
	for _, id := range Suites() {
		t.Run(id.String(), func(t *testing.T) {
			s, _ := LookupSuite(id)
			k, err := s.GenerateKeyPair(seeded(3))
			if err != nil {
				t.Fatal(err)
			}
			b, err := k.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			parsed, err := s.ParseKEMPrivateKey(b)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Clone(b)
			b.Zero()
			for name, key := range map[string]*KEMPrivateKey{"generated": k, "parsed": parsed} {
				if got, err := key.Bytes(); err != nil || !bytes.Equal(got, want) {
					t.Errorf("%s key serialises differently after its bytes were zeroed", name)
				}
				enc, ct, err := s.EncryptWithLabel(key.PublicKey(), "test", nil, []byte("intact"))
				if err != nil {
					t.Fatal(err)
				}
				if pt, err := s.DecryptWithLabel(key, "test", nil, enc, ct); err != nil || string(pt) != "intact" {
					t.Errorf("%s key after zeroing its bytes: %q, %v", name, pt, err)
				}
			}
		})
	}
}

// TestKEMPrivateKeyClone: a clone decrypts what the key's public key
// received, and destroying either leaves the other usable.
func TestKEMPrivateKeyClone(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		k, err := s.GenerateKeyPair(seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		kem, ct, err := s.EncryptWithLabel(k.PublicKey(), "clone", nil, []byte("secret"))
		if err != nil {
			t.Fatal(err)
		}
		c := k.Clone()
		k.Destroy()
		if pt, err := s.DecryptWithLabel(c, "clone", nil, kem, ct); err != nil || string(pt) != "secret" {
			t.Fatalf("suite %v: the clone of a destroyed key: %q, %v", id, pt, err)
		}
		if _, err := s.DecryptWithLabel(k, "clone", nil, kem, ct); err == nil {
			t.Fatalf("suite %v: a destroyed key still decrypts", id)
		}
		d := c.Clone()
		c.Destroy()
		if _, err := s.DecryptWithLabel(d, "clone", nil, kem, ct); err != nil {
			t.Fatalf("suite %v: the clone's clone: %v", id, err)
		}
	}
}

// TestSigningKeyClone: a clone signs as the key does, and destroying
// either leaves the other usable.
func TestSigningKeyClone(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		k, err := s.GenerateSigningKey(seeded(4))
		if err != nil {
			t.Fatal(err)
		}
		pub := bytes.Clone(k.PublicKey())
		c := k.Clone()
		if !bytes.Equal(c.PublicKey(), pub) {
			t.Fatalf("suite %v: the clone has another public key", id)
		}
		k.Destroy()
		sig, err := s.SignWithLabel(c, "clone", []byte("content"))
		if err != nil {
			t.Fatalf("suite %v: the clone of a destroyed key: %v", id, err)
		}
		if err := s.VerifyWithLabel(pub, "clone", []byte("content"), sig); err != nil {
			t.Fatalf("suite %v: the clone of a destroyed key signs wrong: %v", id, err)
		}
		if _, err := s.SignWithLabel(k, "clone", []byte("content")); err == nil {
			t.Fatalf("suite %v: a destroyed key still signs", id)
		}
		d := c.Clone()
		c.Destroy()
		if sig, err = s.SignWithLabel(d, "clone", []byte("content")); err != nil {
			t.Fatalf("suite %v: the clone's clone: %v", id, err)
		}
		if err := s.VerifyWithLabel(pub, "clone", []byte("content"), sig); err != nil {
			t.Fatalf("suite %v: the clone's clone signs wrong: %v", id, err)
		}
	}
}

// TestDH checks that the two holders of a pair of KEM key pairs agree on
// DH's secret, that a third key pair gives another, and that a suite
// whose KEM has no Diffie-Hellman group refuses.
func TestDH(t *testing.T) {
	for _, id := range Suites() {
		s, err := LookupSuite(id)
		if err != nil {
			t.Fatal(err)
		}
		var keys [3]*KEMPrivateKey
		for i := range keys {
			ikm := make(Secret, 32)
			ikm[0] = byte(i + 1)
			if keys[i], err = s.DeriveKeyPair(ikm); err != nil {
				t.Fatal(err)
			}
		}
		ab, errAB := s.DH(keys[0], keys[1].PublicKey())
		ba, errBA := s.DH(keys[1], keys[0].PublicKey())
		ac, errAC := s.DH(keys[0], keys[2].PublicKey())
		if !s.HasDH() {
			if errAB != ErrNoDH {
				t.Fatalf("%v: DH without a Diffie-Hellman group: %v, want ErrNoDH", s, errAB)
			}
			continue
		}
		if errAB != nil || errBA != nil || errAC != nil {
			t.Fatalf("%v: %v %v %v", s, errAB, errBA, errAC)
		}
		if len(ab) == 0 || !bytes.Equal(ab, ba) {
			t.Fatalf("%v: the two sides disagree", s)
		}
		if bytes.Equal(ab, ac) {
			t.Fatalf("%v: another peer gives the same secret", s)
		}
	}
	s, _ := LookupSuite(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	k, _ := s.DeriveKeyPair(make(Secret, 32))
	// A point of small order: X25519 gives the all-zero secret.
	zero := &KEMPublicKey{b: make([]byte, 32)}
	if _, err := s.DH(k, zero); err == nil {
		t.Fatal("DH with a low-order point succeeded")
	}
}
