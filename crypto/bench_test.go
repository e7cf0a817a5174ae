package crypto

import (
	"fmt"
	"testing"
)

// BenchmarkAEADSeal is the raw AEAD baseline: one seal of a 64-byte and a
// 1 KiB datagram per op, for each AEAD the suites use.
func BenchmarkAEADSeal(b *testing.B) {
	for _, id := range []SuiteID{
		MLS128DHKEMX25519AES128GCMSHA256Ed25519,
		MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519,
		MLS256DHKEMP384AES256GCMSHA384P384,
	} {
		s, _ := LookupSuite(id)
		a, err := s.NewAEAD(make(Secret, s.KeySize()))
		if err != nil {
			b.Fatal(err)
		}
		name := map[SuiteID]string{1: "AES-128-GCM", 3: "ChaCha20-Poly1305", 7: "AES-256-GCM"}[id]
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%s/%dB", name, size), func(b *testing.B) {
				nonce := make([]byte, s.NonceSize())
				pt := make([]byte, size)
				dst := make([]byte, 0, size+s.Overhead())
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					dst = a.Seal(dst[:0], nonce, pt, nil)
				}
			})
		}
	}
}

// BenchmarkHPKE measures the public-key operations a commit is made of,
// per suite: DeriveKeyPair from a path secret, EncryptWithLabel and
// DecryptWithLabel of a 32-byte path secret, and DH of two key pairs.
func BenchmarkHPKE(b *testing.B) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		ikm := make(Secret, s.HashSize())
		k, _ := s.DeriveKeyPair(ikm)
		pt := make([]byte, 32)
		enc, ct, _ := s.EncryptWithLabel(k.PublicKey(), "UpdatePathNode", nil, pt)
		b.Run(fmt.Sprintf("%#04x/DeriveKeyPair", uint16(id)), func(b *testing.B) {
			for b.Loop() {
				s.DeriveKeyPair(ikm)
			}
		})
		b.Run(fmt.Sprintf("%#04x/Encrypt", uint16(id)), func(b *testing.B) {
			for b.Loop() {
				s.EncryptWithLabel(k.PublicKey(), "UpdatePathNode", nil, pt)
			}
		})
		if s.HasDH() {
			peer, _ := s.DeriveKeyPair(append(Secret{1}, ikm[1:]...))
			b.Run(fmt.Sprintf("%#04x/DH", uint16(id)), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.DH(k, peer.PublicKey()); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		b.Run(fmt.Sprintf("%#04x/Decrypt", uint16(id)), func(b *testing.B) {
			for b.Loop() {
				if _, err := s.DecryptWithLabel(k, "UpdatePathNode", nil, enc, ct); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
