// Package crypto holds the cryptographic primitives of Conclave's group key
// management: the MLS cipher suites of RFC 9420 (§5.1) and the labelled
// operations MLS builds on them (§5.1.2-§5.2, §8): ExpandWithLabel,
// DeriveSecret, DeriveTreeSecret, RefHash, SignWithLabel/VerifyWithLabel and
// EncryptWithLabel/DecryptWithLabel.
//
// A Suite bundles a KEM, a KDF, an AEAD, a hash and a signature scheme. HPKE
// (RFC 9180) comes from the standard library's crypto/hpke, the AEADs from
// crypto/aes with crypto/cipher and from golang.org/x/crypto
// (ChaCha20-Poly1305), HKDF from crypto/hkdf, signatures from crypto/ed25519
// and crypto/ecdsa. Suites offered: MLS 0x0001, 0x0002, 0x0003, 0x0005 and
// 0x0007, and Conclave's post-quantum hybrid suite 0xFC01
// (X-Wing, AES-256-GCM, SHA-256, Ed25519). 0x0004 and 0x0006 need X448 and
// Ed448, which neither the standard library nor x/crypto implements;
// LookupSuite refuses them with ErrX448Unavailable.
//
// Secrets are handed out as Secret, whose String, Format, GoString and JSON
// and text marshalling print "[secret redacted]" and never the bytes, and
// whose Zero overwrites them in place when they are retired. Private keys
// redact the same way. MACs are compared in constant time.
//
// Randomness: key generation takes an io.Reader, so a simulator can replay
// a run; keys are derived from bytes read from it with the KEM's
// DeriveKeyPair (RFC 9180 §7.1.3) or the signature scheme's seed or scalar
// format. Since Go 1.26 the standard library draws the HPKE ephemeral key
// and the ECDSA nonce from its own secure source whatever reader is passed;
// tests that need those fixed use testing/cryptotest.SetGlobalRandom.
// Ed25519 signing is deterministic.
package crypto
