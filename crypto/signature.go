package crypto

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"fmt"
	"io"
)

// SigningKey is a signature private key of a suite's scheme: Ed25519, or
// ECDSA with the suite's curve and hash. It never prints.
type SigningKey struct {
	suite *Suite
	ed    ed25519.PrivateKey
	ec    *ecdsa.PrivateKey
	pub   []byte
}

// PublicKey is the MLS SignaturePublicKey: 32 raw bytes for Ed25519, the
// uncompressed point for ECDSA. The caller must not modify it.
func (k *SigningKey) PublicKey() []byte { return k.pub }

// Bytes is the private key's serialisation as the MLS vectors carry it: the
// 32-byte seed for Ed25519, the big-endian scalar for ECDSA.
func (k *SigningKey) Bytes() (Secret, error) {
	switch {
	case k.ed != nil:
		return Secret(k.ed.Seed()), nil
	case k.ec != nil:
		b, err := k.ec.Bytes()
		return b, err
	}
	return nil, ErrPrivateKey
}

// Destroy erases an Ed25519 key in place and drops either kind; the
// standard library's ECDSA key object offers no way to overwrite its memory.
func (k *SigningKey) Destroy() {
	clear(k.ed)
	k.ed, k.ec = nil, nil
}

// Clone returns a key of its own with the same secret: its holder can use
// and Destroy it without touching k. It takes no scalar multiplication,
// which parsing k's bytes again would: an Ed25519 key is copied, since
// Destroy erases it in place; an ECDSA key object is immutable and Destroy
// only lets go of it, so the clone shares it.
func (k *SigningKey) Clone() *SigningKey {
	c := *k
	if k.ed != nil {
		c.ed = append(ed25519.PrivateKey(nil), k.ed...)
	}
	return &c
}

// String redacts.
func (k *SigningKey) String() string { return "[signing key redacted]" }

// GoString redacts.
func (k *SigningKey) GoString() string { return "[signing key redacted]" }

// Format redacts for every verb.
func (k *SigningKey) Format(f fmt.State, verb rune) { fmt.Fprint(f, "[signing key redacted]") }

// GenerateSigningKey makes a signing key from bytes read from rand: an
// Ed25519 seed, or an ECDSA scalar drawn by rejection sampling, so that a
// deterministic reader gives a deterministic key.
func (s *Suite) GenerateSigningKey(rand io.Reader) (*SigningKey, error) {
	size := ed25519.SeedSize
	if s.sig == sigECDSA {
		size = (s.curve.Params().BitSize + 7) / 8
	}
	buf := make(Secret, size)
	defer buf.Zero()
	for range 64 {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return nil, fmt.Errorf("crypto: reading randomness: %w", err)
		}
		if s.sig == sigECDSA && s.curve.Params().BitSize%8 != 0 {
			// P-521: 66 bytes hold 528 bits; keeping only the curve's 521
			// makes a draw below the group order almost certain.
			buf[0] &= 1
		}
		k, err := s.ParseSigningKey(buf)
		if err == nil {
			return k, nil
		}
	}
	return nil, ErrPrivateKey
}

// ParseSigningKey parses a private key in the form Bytes gives.
func (s *Suite) ParseSigningKey(b []byte) (*SigningKey, error) {
	switch s.sig {
	case sigEd25519:
		if len(b) != ed25519.SeedSize {
			return nil, ErrPrivateKey
		}
		ed := ed25519.NewKeyFromSeed(b)
		return &SigningKey{suite: s, ed: ed, pub: []byte(ed.Public().(ed25519.PublicKey))}, nil
	default:
		ec, err := ecdsa.ParseRawPrivateKey(s.curve, b)
		if err != nil {
			return nil, ErrPrivateKey
		}
		pub, err := ec.PublicKey.Bytes()
		if err != nil {
			return nil, ErrPrivateKey
		}
		return &SigningKey{suite: s, ec: ec, pub: pub}, nil
	}
}

// SignWithLabel is RFC 9420 §5.1.2: Signature.Sign(key, SignContent) with
// SignContent{"MLS 1.0 " + label, content}. ECDSA signatures are DER, over
// the suite's hash of SignContent.
func (s *Suite) SignWithLabel(key *SigningKey, label string, content []byte) ([]byte, error) {
	msg, err := labelled(label, content)
	if err != nil {
		return nil, err
	}
	switch {
	case s.sig == sigEd25519 && key.ed != nil:
		return ed25519.Sign(key.ed, msg), nil
	case s.sig == sigECDSA && key.ec != nil && key.suite.curve == s.curve:
		// The reader is ignored since Go 1.26: the nonce comes from the
		// standard library's secure source.
		return ecdsa.SignASN1(nil, key.ec, s.Hash(msg))
	}
	return nil, ErrPrivateKey
}

// VerifyWithLabel is RFC 9420 §5.1.2: it checks signature over
// SignContent{"MLS 1.0 " + label, content} with the public key pub in the
// form SigningKey.PublicKey gives. Any failure is ErrSignature or
// ErrPublicKey.
func (s *Suite) VerifyWithLabel(pub []byte, label string, content, signature []byte) error {
	msg, err := labelled(label, content)
	if err != nil {
		return ErrSignature
	}
	switch s.sig {
	case sigEd25519:
		// ed25519.Verify panics on a key of the wrong length.
		if len(pub) != ed25519.PublicKeySize {
			return ErrPublicKey
		}
		if !ed25519.Verify(pub, msg, signature) {
			return ErrSignature
		}
	default:
		pk, err := ecdsa.ParseUncompressedPublicKey(s.curve, pub)
		if err != nil {
			return ErrPublicKey
		}
		if !ecdsa.VerifyASN1(pk, s.Hash(msg), signature) {
			return ErrSignature
		}
	}
	return nil
}
