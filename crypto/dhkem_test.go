package crypto

import (
	"bytes"
	"testing"
)

// TestDeriveKeyPairMatchesHPKE checks the DHKEM's own DeriveKeyPair against
// crypto/hpke's, for every DH suite and many inputs (P-521's and P-384's
// rejection sampling, X25519's clamping on serialisation), and that the
// kept crypto/ecdh key is the same key.
func TestDeriveKeyPairMatchesHPKE(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		if !s.HasDH() {
			continue
		}
		for i := range 64 {
			ikm := make(Secret, s.kemSeed)
			ikm[0], ikm[len(ikm)-1] = byte(i), byte(3*i)
			got, err := s.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatalf("%v: %v", s, err)
			}
			want, err := s.kem.DeriveKeyPair(ikm)
			if err != nil {
				t.Fatal(err)
			}
			gb, _ := got.Bytes()
			wb, _ := want.Bytes()
			if !bytes.Equal(gb, wb) || !bytes.Equal(got.PublicKey().Bytes(), want.PublicKey().Bytes()) {
				t.Fatalf("%v: input %d derives another key pair than RFC 9180's", s, i)
			}
			if got.dh == nil || !bytes.Equal(got.dh.PublicKey().Bytes(), got.PublicKey().Bytes()) {
				t.Fatalf("%v: the kept Diffie-Hellman key is not the KEM key", s)
			}
		}
	}
}

// TestDHIsOneAgreement checks that DH uses the keys as parsed and kept:
// no private key is rebuilt from its bytes (which computes its public
// key, a second scalar multiplication) and no public key is parsed again,
// so that the only allocation is the shared secret's.
func TestDHIsOneAgreement(t *testing.T) {
	s, _ := LookupSuite(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	a, _ := s.DeriveKeyPair(make(Secret, 32))
	b, _ := s.DeriveKeyPair(bytes.Repeat([]byte{1}, 32))
	pub, err := s.ParseKEMPublicKey(b.PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(20, func() {
		if _, err := s.DH(a, pub); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("DH allocates %v times, want 1 (the secret)", allocs)
	}
	// A destroyed key no longer agrees.
	c := a.Clone()
	c.Destroy()
	if _, err := s.DH(c, pub); err == nil {
		t.Fatal("DH with a destroyed key succeeded")
	}
	if _, err := s.DH(a, pub); err != nil {
		t.Fatalf("destroying a clone broke the original: %v", err)
	}
}
