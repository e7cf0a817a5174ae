package crypto

import "errors"

// ErrNoDH is returned by DH for a suite whose KEM is not built on a
// Diffie-Hellman group (X-Wing's ML-KEM hybrid).
var ErrNoDH = errors.New("crypto: the suite's KEM has no Diffie-Hellman function")

// HasDH reports whether the suite's KEM is a DHKEM (RFC 9180 §4.1), whose
// key pairs DH can combine.
func (s *Suite) HasDH() bool { return s.dh != nil }

// DH is the Diffie-Hellman shared secret of a private key and a public key
// of the suite's KEM (RFC 9180 §4.1's DH(skX, pkY)): the static-static
// agreement NaCl's crypto_box makes of two long-lived keys, which only the
// holders of the two private keys can compute. It is the raw shared
// secret, to be put through the suite's KDF before any use. A public key
// that gives the all-zero X25519 output is refused.
func (s *Suite) DH(priv *KEMPrivateKey, pub *KEMPublicKey) (Secret, error) {
	if s.dh == nil {
		return nil, ErrNoDH
	}
	if priv == nil || priv.k == nil {
		return nil, ErrPrivateKey
	}
	if pub == nil {
		return nil, ErrPublicKey
	}
	// The parsed keys are kept with the KEM keys: the agreement is one
	// scalar multiplication, and the public key is checked once, when it
	// is parsed.
	k := priv.dh
	if k == nil {
		return nil, ErrPrivateKey
	}
	p := pub.dh
	if p == nil {
		var err error
		if p, err = s.dh.NewPublicKey(pub.b); err != nil {
			return nil, ErrPublicKey
		}
	}
	z, err := k.ECDH(p)
	if err != nil {
		// X25519's low-order points give an all-zero secret, which
		// crypto/ecdh refuses.
		return nil, ErrPublicKey
	}
	return Secret(z), nil
}
