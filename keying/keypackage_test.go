package keying

import (
	"bytes"
	"errors"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// TestKeyPackageVerifyRecordsSuccess: a key package that verifies records
// its encoding, and a second Verify trusts the record only while the
// package still encodes to it: any field changed since, or another suite,
// is checked in full and fails as it would have on a fresh package.
func TestKeyPackageVerifyRecordsSuccess(t *testing.T) {
	s := suite1(t)
	sig, err := s.GenerateSigningKey(detRand(30))
	if err != nil {
		t.Fatal(err)
	}
	kp, _, err := NewKeyPackage(s, []byte("joiner"), sig, Lifetime{NotAfter: 1 << 40}, detRand(31))
	if err != nil {
		t.Fatal(err)
	}
	if kp.verified.Load() != nil {
		t.Fatal("a key package never verified holds a record")
	}
	if err := kp.Verify(s); err != nil {
		t.Fatal(err)
	}
	enc, err := kp.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if v := kp.verified.Load(); v == nil || !bytes.Equal(*v, enc) {
		t.Fatal("a verified key package holds no record of its encoding")
	}
	if err := kp.Verify(s); err != nil {
		t.Fatalf("verified again: %v", err)
	}

	// Each change after the success is checked in full.
	tamper := []struct {
		name string
		edit func(k *KeyPackage)
		want error
	}{
		{"signature", func(k *KeyPackage) { k.Signature[0] ^= 1 }, ErrKeyPackageSignature},
		{"init key", func(k *KeyPackage) { k.InitKey[0] ^= 1 }, ErrKeyPackageSignature},
		{"init key reused", func(k *KeyPackage) { k.InitKey = bytes.Clone(k.Leaf.EncryptionKey) }, ErrInitKeyReuse},
		{"leaf signature", func(k *KeyPackage) { k.Leaf.Signature[0] ^= 1 }, ErrLeafSignature},
		{"leaf identity", func(k *KeyPackage) { k.Leaf.Credential.Identity[0] ^= 1 }, ErrLeafSignature},
		{"extensions", func(k *KeyPackage) { k.Extensions = []Extension{{Type: 9, Data: []byte{1}}} }, ErrKeyPackageSignature},
		{"version", func(k *KeyPackage) { k.Version++ }, ErrKeyPackageSuite},
	}
	for _, c := range tamper {
		k, err := ParseKeyPackage(bytes.Clone(enc))
		if err != nil {
			t.Fatal(err)
		}
		if err := k.Verify(s); err != nil {
			t.Fatal(err)
		}
		c.edit(k)
		if err := k.Verify(s); !errors.Is(err, c.want) {
			t.Errorf("%s changed after a success: %v, want %v", c.name, err, c.want)
		}
		if err := k.Verify(s); !errors.Is(err, c.want) {
			t.Errorf("%s changed after a success, verified twice: %v, want %v", c.name, err, c.want)
		}
	}

	// Another suite is not the one the record is for.
	other, err := crypto.LookupSuite(crypto.MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	if err := kp.Verify(other); !errors.Is(err, ErrKeyPackageSuite) {
		t.Fatalf("verified under another suite: %v", err)
	}

	// A package that fails records nothing.
	bad, err := ParseKeyPackage(bytes.Clone(enc))
	if err != nil {
		t.Fatal(err)
	}
	bad.Signature[1] ^= 1
	if err := bad.Verify(s); !errors.Is(err, ErrKeyPackageSignature) {
		t.Fatal(err)
	}
	if bad.verified.Load() != nil {
		t.Fatal("a key package that failed holds a record")
	}
}
