package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/hpke"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"hash"

	"golang.org/x/crypto/chacha20poly1305"
)

// SuiteID is an MLS cipher suite number (RFC 9420 §17.1).
type SuiteID uint16

// The cipher suites of RFC 9420 §17.1 and Conclave's private-use suite.
const (
	MLS128DHKEMX25519AES128GCMSHA256Ed25519        SuiteID = 0x0001
	MLS128DHKEMP256AES128GCMSHA256P256             SuiteID = 0x0002
	MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519 SuiteID = 0x0003
	MLS256DHKEMX448AES256GCMSHA512Ed448            SuiteID = 0x0004
	MLS256DHKEMP521AES256GCMSHA512P521             SuiteID = 0x0005
	MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448     SuiteID = 0x0006
	MLS256DHKEMP384AES256GCMSHA384P384             SuiteID = 0x0007

	// ConclaveXWingAES256GCMSHA256Ed25519 is Conclave's post-quantum hybrid
	// suite, numbered in RFC 9420's private-use range (0xF000-0xFFFF): the
	// KEM is MLKEM768-X25519 (X-Wing), so that recorded traffic stays
	// confidential against a future quantum attacker. AES-256-GCM keeps 128
	// bits against Grover's search. The hash is SHA-256: HKDF-SHA256 with
	// 32-byte secrets is a 256-bit PRF whose post-quantum strength (128
	// bits) already matches the AEAD's; SHA-384 would lengthen every secret
	// and tree hash for no gain while signatures remain Ed25519, which no
	// suite here makes post-quantum.
	ConclaveXWingAES256GCMSHA256Ed25519 SuiteID = 0xFC01
)

// Errors of suite lookup and of the primitives. They carry no secret data.
var (
	ErrUnknownSuite    = errors.New("crypto: unknown cipher suite")
	ErrX448Unavailable = errors.New("crypto: cipher suite needs X448/Ed448, which neither the Go standard library nor golang.org/x/crypto implements")
	ErrLength          = errors.New("crypto: requested output length out of range")
	ErrDecrypt         = errors.New("crypto: decryption failed")
	ErrSignature       = errors.New("crypto: signature verification failed")
	ErrPublicKey       = errors.New("crypto: malformed public key")
	ErrPrivateKey      = errors.New("crypto: malformed private key")
)

type aeadKind uint8

const (
	aeadAESGCM aeadKind = iota
	aeadChaCha20Poly1305
)

type sigKind uint8

const (
	sigEd25519 sigKind = iota
	sigECDSA
)

// Suite is one cipher suite: its KEM, KDF, AEAD, hash and signature scheme.
// Suites are immutable and safe for concurrent use.
type Suite struct {
	id       SuiteID
	name     string
	newHash  func() hash.Hash
	hashSize int
	kem      hpke.KEM
	dh       ecdh.Curve // the KEM's Diffie-Hellman group; nil for a KEM without one
	kemSeed  int        // bytes of randomness GenerateKeyPair reads: the KEM's Nsk
	kdf      hpke.KDF
	hpkeAEAD hpke.AEAD
	aead     aeadKind
	keySize  int
	sig      sigKind
	curve    elliptic.Curve // for ECDSA
}

var suites = map[SuiteID]*Suite{
	MLS128DHKEMX25519AES128GCMSHA256Ed25519: {
		name: "MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519", newHash: sha256.New, hashSize: 32,
		kem: hpke.DHKEM(ecdh.X25519()), dh: ecdh.X25519(), kemSeed: 32, kdf: hpke.HKDFSHA256(), hpkeAEAD: hpke.AES128GCM(),
		aead: aeadAESGCM, keySize: 16, sig: sigEd25519,
	},
	MLS128DHKEMP256AES128GCMSHA256P256: {
		name: "MLS_128_DHKEMP256_AES128GCM_SHA256_P256", newHash: sha256.New, hashSize: 32,
		kem: hpke.DHKEM(ecdh.P256()), dh: ecdh.P256(), kemSeed: 32, kdf: hpke.HKDFSHA256(), hpkeAEAD: hpke.AES128GCM(),
		aead: aeadAESGCM, keySize: 16, sig: sigECDSA, curve: elliptic.P256(),
	},
	MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519: {
		name: "MLS_128_DHKEMX25519_CHACHA20POLY1305_SHA256_Ed25519", newHash: sha256.New, hashSize: 32,
		kem: hpke.DHKEM(ecdh.X25519()), dh: ecdh.X25519(), kemSeed: 32, kdf: hpke.HKDFSHA256(), hpkeAEAD: hpke.ChaCha20Poly1305(),
		aead: aeadChaCha20Poly1305, keySize: 32, sig: sigEd25519,
	},
	MLS256DHKEMP521AES256GCMSHA512P521: {
		name: "MLS_256_DHKEMP521_AES256GCM_SHA512_P521", newHash: sha512.New, hashSize: 64,
		kem: hpke.DHKEM(ecdh.P521()), dh: ecdh.P521(), kemSeed: 66, kdf: hpke.HKDFSHA512(), hpkeAEAD: hpke.AES256GCM(),
		aead: aeadAESGCM, keySize: 32, sig: sigECDSA, curve: elliptic.P521(),
	},
	MLS256DHKEMP384AES256GCMSHA384P384: {
		name: "MLS_256_DHKEMP384_AES256GCM_SHA384_P384", newHash: sha512.New384, hashSize: 48,
		kem: hpke.DHKEM(ecdh.P384()), dh: ecdh.P384(), kemSeed: 48, kdf: hpke.HKDFSHA384(), hpkeAEAD: hpke.AES256GCM(),
		aead: aeadAESGCM, keySize: 32, sig: sigECDSA, curve: elliptic.P384(),
	},
	ConclaveXWingAES256GCMSHA256Ed25519: {
		name: "CONCLAVE_XWING_AES256GCM_SHA256_Ed25519", newHash: sha256.New, hashSize: 32,
		kem: hpke.MLKEM768X25519(), kemSeed: 32, kdf: hpke.HKDFSHA256(), hpkeAEAD: hpke.AES256GCM(),
		aead: aeadAESGCM, keySize: 32, sig: sigEd25519,
	},
}

func init() {
	for id, s := range suites {
		s.id = id
	}
}

// LookupSuite returns the suite numbered id. Suites 0x0004 and 0x0006 fail
// with ErrX448Unavailable, other unknown numbers with ErrUnknownSuite.
func LookupSuite(id SuiteID) (*Suite, error) {
	if s, ok := suites[id]; ok {
		return s, nil
	}
	switch id {
	case MLS256DHKEMX448AES256GCMSHA512Ed448, MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448:
		return nil, ErrX448Unavailable
	}
	return nil, ErrUnknownSuite
}

// Suites lists the supported suite numbers in ascending order.
func Suites() []SuiteID {
	return []SuiteID{
		MLS128DHKEMX25519AES128GCMSHA256Ed25519,
		MLS128DHKEMP256AES128GCMSHA256P256,
		MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519,
		MLS256DHKEMP521AES256GCMSHA512P521,
		MLS256DHKEMP384AES256GCMSHA384P384,
		ConclaveXWingAES256GCMSHA256Ed25519,
	}
}

// String is the suite's registered name.
func (id SuiteID) String() string {
	if s, ok := suites[id]; ok {
		return s.name
	}
	switch id {
	case MLS256DHKEMX448AES256GCMSHA512Ed448:
		return "MLS_256_DHKEMX448_AES256GCM_SHA512_Ed448"
	case MLS256DHKEMX448ChaCha20Poly1305SHA512Ed448:
		return "MLS_256_DHKEMX448_CHACHA20POLY1305_SHA512_Ed448"
	}
	return fmt.Sprintf("SuiteID(0x%04x)", uint16(id))
}

// ID is the suite's number.
func (s *Suite) ID() SuiteID { return s.id }

// String is the suite's registered name.
func (s *Suite) String() string { return s.name }

// HashSize is the size of the suite's hash output, which is also KDF.Nh,
// the size of every secret of the key schedule.
func (s *Suite) HashSize() int { return s.hashSize }

// KeySize is AEAD.Nk, the AEAD key size.
func (s *Suite) KeySize() int { return s.keySize }

// NonceSize is AEAD.Nn, the AEAD nonce size (12 for every suite).
func (s *Suite) NonceSize() int { return 12 }

// Overhead is the AEAD tag size (16 for every suite).
func (s *Suite) Overhead() int { return 16 }

// Hash returns the suite's hash of data.
func (s *Suite) Hash(data []byte) []byte {
	h := s.newHash()
	h.Write(data)
	return h.Sum(nil)
}

// NewHash returns a fresh instance of the suite's hash, for hashing input
// in pieces.
func (s *Suite) NewHash() hash.Hash { return s.newHash() }

// Extract is KDF.Extract: HKDF-Extract(salt, ikm).
func (s *Suite) Extract(salt, ikm []byte) Secret {
	prk, err := hkdf.Extract(s.newHash, ikm, salt)
	if err != nil {
		// HKDF-Extract fails only in FIPS-only mode for short keys.
		panic("crypto: HKDF-Extract: " + err.Error())
	}
	return prk
}

// Expand is KDF.Expand: HKDF-Expand(secret, info, length). The length is at
// most 255 hash sizes (RFC 5869).
func (s *Suite) Expand(secret Secret, info []byte, length int) (Secret, error) {
	if length < 0 || length > 255*s.hashSize {
		return nil, ErrLength
	}
	if length <= s.hashSize {
		// One block, as every MLS derivation but long exports is:
		// T(1) = HMAC(PRK, info || 0x01) (RFC 5869 §2.3), without the
		// generic loop's copies of info.
		m := hmac.New(s.newHash, secret)
		m.Write(info)
		m.Write([]byte{1})
		full := m.Sum(make([]byte, 0, s.hashSize))
		if length == len(full) {
			return full, nil
		}
		// Copy out and erase the block, so that Zero on the result erases
		// every byte of it.
		out := append(Secret(make([]byte, 0, length)), full[:length]...)
		clear(full)
		return out, nil
	}
	out, err := hkdf.Expand(s.newHash, secret, string(info), length)
	if err != nil {
		return nil, ErrLength
	}
	return out, nil
}

// MAC is the suite's MAC: HMAC with the suite's hash (RFC 9420 §5.1).
func (s *Suite) MAC(key Secret, data []byte) []byte {
	m := hmac.New(s.newHash, key)
	m.Write(data)
	return m.Sum(nil)
}

// VerifyMAC reports in constant time whether tag is MAC(key, data).
func (s *Suite) VerifyMAC(key Secret, data, tag []byte) bool {
	return hmac.Equal(s.MAC(key, data), tag)
}

// NewAEAD returns the suite's AEAD keyed with key, which must be KeySize
// bytes. Build it once per key: the returned cipher.AEAD is safe for
// concurrent use and expands the key schedule only here.
func (s *Suite) NewAEAD(key Secret) (cipher.AEAD, error) {
	if len(key) != s.keySize {
		return nil, ErrLength
	}
	switch s.aead {
	case aeadChaCha20Poly1305:
		return chacha20poly1305.New(key)
	default:
		b, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		return cipher.NewGCM(b)
	}
}
