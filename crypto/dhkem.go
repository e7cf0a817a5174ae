package crypto

import (
	"crypto/ecdh"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"hash"
)

// A DHKEM's key pairs are built here from their crypto/ecdh key rather
// than by crypto/hpke, so that KEMPrivateKey keeps that key: hpke's
// private key does not hand it out, and rebuilding it from the key's bytes
// for DH would recompute the public key, a scalar multiplication as
// costly as the agreement itself.

// dhKEMHash is the hash of a DHKEM's KDF (RFC 9180 §7.1): HKDF-SHA256 for
// X25519 and P-256, HKDF-SHA384 for P-384, HKDF-SHA512 for P-521.
func dhKEMHash(c ecdh.Curve) func() hash.Hash {
	switch c {
	case ecdh.P384():
		return sha512.New384
	case ecdh.P521():
		return sha512.New
	default:
		return sha256.New
	}
}

// dhKEMLabel is RFC 9180 §4's labelling of a KEM's KDF input:
// [I2OSP(L, 2)] || "HPKE-v1" || "KEM" || I2OSP(kem_id, 2) || label || rest.
func dhKEMLabel(kemID uint16, withLength bool, length int, label string, rest []byte) []byte {
	b := make([]byte, 0, 2+7+3+2+len(label)+len(rest))
	if withLength {
		b = binary.BigEndian.AppendUint16(b, uint16(length))
	}
	b = append(b, "HPKE-v1KEM"...)
	b = binary.BigEndian.AppendUint16(b, kemID)
	b = append(b, label...)
	return append(b, rest...)
}

// deriveDHKeyPair is RFC 9180 §7.1.3's DeriveKeyPair for the suite's DHKEM,
// giving the crypto/ecdh key itself.
func (s *Suite) deriveDHKeyPair(ikm Secret) (*ecdh.PrivateKey, error) {
	id := s.kem.ID()
	h := dhKEMHash(s.dh)
	labelled := Secret(dhKEMLabel(id, false, 0, "dkp_prk", ikm))
	prk, err := hkdf.Extract(h, labelled, nil)
	labelled.Zero() // it holds a copy of ikm
	if err != nil {
		return nil, ErrPrivateKey
	}
	defer Secret(prk).Zero()
	if s.dh == ecdh.X25519() {
		sk, err := hkdf.Expand(h, prk, string(dhKEMLabel(id, true, s.kemSeed, "sk", nil)), s.kemSeed)
		if err != nil {
			return nil, ErrPrivateKey
		}
		defer Secret(sk).Zero()
		return s.dh.NewPrivateKey(sk)
	}
	// NIST curves: rejection sampling of a scalar below the order.
	for counter := range 256 {
		sk, err := hkdf.Expand(h, prk, string(dhKEMLabel(id, true, s.kemSeed, "candidate", []byte{byte(counter)})), s.kemSeed)
		if err != nil {
			return nil, ErrPrivateKey
		}
		if s.dh == ecdh.P521() {
			sk[0] &= 0x01
		}
		k, err := s.dh.NewPrivateKey(sk)
		Secret(sk).Zero()
		if err == nil {
			return k, nil
		}
	}
	return nil, ErrPrivateKey
}

// wrapDH makes a KEMPrivateKey of a crypto/ecdh key of the suite's DHKEM.
func (s *Suite) wrapDH(k *ecdh.PrivateKey) (*KEMPrivateKey, error) {
	hk, err := hpke.NewDHKEMPrivateKey(k)
	if err != nil {
		return nil, ErrPrivateKey
	}
	pub := k.PublicKey()
	hp, err := hpke.NewDHKEMPublicKey(pub)
	if err != nil {
		return nil, ErrPrivateKey
	}
	return &KEMPrivateKey{k: hk, dh: k, pub: &KEMPublicKey{k: hp, dh: pub, b: pub.Bytes()}}, nil
}
