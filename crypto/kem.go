package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
	"io"
)

// KEMPublicKey is an HPKE public key of a suite's KEM (an MLS
// HPKEPublicKey), kept with its serialisation.
type KEMPublicKey struct {
	k  hpke.PublicKey
	dh *ecdh.PublicKey // the same key for DH; nil for a KEM without one
	b  []byte
}

// Bytes is the key's serialisation (RFC 9180 SerializePublicKey): the
// uncompressed point for NIST curves, 32 bytes for X25519, 1216 bytes for
// X-Wing. The caller must not modify it.
func (p *KEMPublicKey) Bytes() []byte { return p.b }

// Equal reports whether p and o are the same key.
func (p *KEMPublicKey) Equal(o *KEMPublicKey) bool { return o != nil && bytes.Equal(p.b, o.b) }

// KEMPrivateKey is an HPKE private key of a suite's KEM. It never prints.
type KEMPrivateKey struct {
	k   hpke.PrivateKey
	dh  *ecdh.PrivateKey // the same key for DH; nil for a KEM without one
	pub *KEMPublicKey
}

// PublicKey is the matching public key.
func (k *KEMPrivateKey) PublicKey() *KEMPublicKey { return k.pub }

// Bytes is the key's serialisation (RFC 9180 SerializePrivateKey; the
// 32-byte seed for X-Wing).
func (k *KEMPrivateKey) Bytes() (Secret, error) {
	if k.k == nil {
		return nil, ErrPrivateKey
	}
	b, err := k.k.Bytes()
	if err != nil {
		return nil, err
	}
	// Some keys (X-Wing's) hand out the very seed they hold: a copy lets
	// the caller zero the result without corrupting the live key.
	return bytes.Clone(b), nil
}

// Destroy drops the key. The standard library's key object offers no way
// to overwrite its memory, so this only makes the key unusable from here.
func (k *KEMPrivateKey) Destroy() { k.k, k.dh = nil, nil }

// Clone returns a key of its own on the same secret: its holder can use
// and Destroy it without touching k. The underlying standard library key
// is immutable and Destroy only lets go of it, so a second handle on it is
// as independent as a key parsed again from k's bytes, without the scalar
// multiplication that parsing takes to find the public key.
func (k *KEMPrivateKey) Clone() *KEMPrivateKey {
	c := *k
	return &c
}

// String redacts.
func (k *KEMPrivateKey) String() string { return "[private key redacted]" }

// GoString redacts.
func (k *KEMPrivateKey) GoString() string { return "[private key redacted]" }

// Format redacts for every verb.
func (k *KEMPrivateKey) Format(f fmt.State, verb rune) { fmt.Fprint(f, "[private key redacted]") }

func (s *Suite) wrapPrivate(k hpke.PrivateKey) *KEMPrivateKey {
	pub := k.PublicKey()
	return &KEMPrivateKey{k: k, pub: &KEMPublicKey{k: pub, b: pub.Bytes()}}
}

// DeriveKeyPair is the KEM's DeriveKeyPair (RFC 9180 §7.1.3; for X-Wing,
// draft-ietf-hpke-pq's): the key pair MLS derives from a node secret or the
// external secret (RFC 9420 §7.4, §8).
func (s *Suite) DeriveKeyPair(ikm Secret) (*KEMPrivateKey, error) {
	if s.dh != nil {
		k, err := s.deriveDHKeyPair(ikm)
		if err != nil {
			return nil, ErrPrivateKey
		}
		return s.wrapDH(k)
	}
	k, err := s.kem.DeriveKeyPair(ikm)
	if err != nil {
		return nil, ErrPrivateKey
	}
	return s.wrapPrivate(k), nil
}

// GenerateKeyPair reads the KEM's Nsk bytes from rand and derives a key
// pair from them with DeriveKeyPair, so that a deterministic reader gives a
// deterministic key.
func (s *Suite) GenerateKeyPair(rand io.Reader) (*KEMPrivateKey, error) {
	ikm := make(Secret, s.kemSeed)
	defer ikm.Zero()
	if _, err := io.ReadFull(rand, ikm); err != nil {
		return nil, fmt.Errorf("crypto: reading randomness: %w", err)
	}
	return s.DeriveKeyPair(ikm)
}

// ParseKEMPublicKey parses a serialised public key, checking that it is a
// valid key of the suite's KEM.
func (s *Suite) ParseKEMPublicKey(b []byte) (*KEMPublicKey, error) {
	if s.dh != nil {
		p, err := s.dh.NewPublicKey(b)
		if err != nil {
			return nil, ErrPublicKey
		}
		k, err := hpke.NewDHKEMPublicKey(p)
		if err != nil {
			return nil, ErrPublicKey
		}
		return &KEMPublicKey{k: k, dh: p, b: bytes.Clone(b)}, nil
	}
	k, err := s.kem.NewPublicKey(b)
	if err != nil {
		return nil, ErrPublicKey
	}
	return &KEMPublicKey{k: k, b: bytes.Clone(b)}, nil
}

// ParseKEMPrivateKey parses a serialised private key.
func (s *Suite) ParseKEMPrivateKey(b []byte) (*KEMPrivateKey, error) {
	if s.dh != nil {
		// crypto/ecdh keeps a copy of its own.
		k, err := s.dh.NewPrivateKey(b)
		if err != nil {
			return nil, ErrPrivateKey
		}
		return s.wrapDH(k)
	}
	// The key may keep the slice it is given (X-Wing's does): parse a
	// copy, so that the caller can zero b.
	k, err := s.kem.NewPrivateKey(bytes.Clone(b))
	if err != nil {
		return nil, ErrPrivateKey
	}
	return s.wrapPrivate(k), nil
}

// EncryptWithLabel is RFC 9420 §5.1.3: HPKE SealBase to pub with
// info = EncryptContext{"MLS 1.0 " + label, context} and empty aad. It
// returns the encapsulated key (kem_output) and the ciphertext.
func (s *Suite) EncryptWithLabel(pub *KEMPublicKey, label string, context, plaintext []byte) (kemOutput, ciphertext []byte, err error) {
	info, err := labelled(label, context)
	if err != nil {
		return nil, nil, err
	}
	enc, sender, err := hpke.NewSender(pub.k, s.kdf, s.hpkeAEAD, info)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: hpke: %w", err)
	}
	ct, err := sender.Seal(nil, plaintext)
	if err != nil {
		return nil, nil, fmt.Errorf("crypto: hpke: %w", err)
	}
	return enc, ct, nil
}

// DecryptWithLabel is RFC 9420 §5.1.3: HPKE OpenBase with
// info = EncryptContext{"MLS 1.0 " + label, context}. Every failure is
// ErrDecrypt, saying nothing about why.
func (s *Suite) DecryptWithLabel(priv *KEMPrivateKey, label string, context, kemOutput, ciphertext []byte) ([]byte, error) {
	if priv.k == nil {
		return nil, ErrPrivateKey
	}
	info, err := labelled(label, context)
	if err != nil {
		return nil, ErrDecrypt
	}
	r, err := hpke.NewRecipient(kemOutput, priv.k, s.kdf, s.hpkeAEAD, info)
	if err != nil {
		return nil, ErrDecrypt
	}
	pt, err := r.Open(nil, ciphertext)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}
