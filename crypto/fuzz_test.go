package crypto

import (
	"bytes"
	"testing"
)

// FuzzParseKeys feeds arbitrary bytes to every key parser and to
// VerifyWithLabel and DecryptWithLabel of every suite: nothing may panic,
// a public key that parses serialises back to exactly its input, and
// nothing arbitrary verifies or decrypts.
func FuzzParseKeys(f *testing.F) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		k, _ := s.GenerateKeyPair(bytes.NewReader(make([]byte, 128)))
		f.Add(k.PublicKey().Bytes())
		sk, _ := s.GenerateSigningKey(bytes.NewReader(bytes.Repeat([]byte{1}, 128)))
		f.Add(sk.PublicKey())
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, id := range Suites() {
			s, _ := LookupSuite(id)
			if p, err := s.ParseKEMPublicKey(in); err == nil && !bytes.Equal(p.Bytes(), in) {
				t.Fatalf("%v: KEM public key does not serialise back", s)
			}
			if k, err := s.ParseKEMPrivateKey(in); err == nil {
				if _, err := k.Bytes(); err != nil {
					t.Fatalf("%v: parsed KEM private key does not serialise: %v", s, err)
				}
			}
			if k, err := s.ParseSigningKey(in); err == nil {
				if b, _ := k.Bytes(); !bytes.Equal(b, in) {
					t.Fatalf("%v: signing key does not serialise back", s)
				}
			}
			if s.VerifyWithLabel(in, "L", in, in) == nil {
				t.Fatalf("%v: arbitrary signature verified", s)
			}
		}
	})
}
