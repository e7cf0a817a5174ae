package auth

import (
	"crypto/sha256"
	"encoding/hex"
)

// Identity is a peer's identity as a handshake authenticated it.
type Identity struct {
	// Provider names the kind of credential ("noise").
	Provider string
	// Name is the identity within the provider, in the provider's
	// canonical text form: a public key, a principal. Admission checks
	// compare it byte for byte.
	Name string
	// Fingerprint is a short form of Name for people to compare
	// (see Fingerprint); it is for display, never for admission.
	Fingerprint string
}

// IsZero reports whether id is the zero Identity (no handshake ran).
func (id Identity) IsZero() bool { return id == Identity{} }

// String returns "provider:name".
func (id Identity) String() string { return id.Provider + ":" + id.Name }

// Fingerprint returns the display fingerprint of a credential's canonical
// bytes (a public key, a principal's name): the first 8 bytes of their
// SHA-256 hash as four groups of four hexadecimal digits,
// "1a2b:3c4d:5e6f:7a8b". Eight bytes are enough for a person to tell keys
// apart, not to stop an attacker who can make many keys: admission always
// compares whole names.
func Fingerprint(b []byte) string {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:8])
	return h[0:4] + ":" + h[4:8] + ":" + h[8:12] + ":" + h[12:16]
}
