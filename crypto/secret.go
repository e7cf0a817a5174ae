package crypto

import (
	"crypto/subtle"
	"fmt"
)

// redacted is what every printer shows instead of secret bytes.
const redacted = "[secret redacted]"

// Secret holds secret key material: a byte slice that never prints. String,
// Format (every verb, %x included), GoString, MarshalText and MarshalJSON
// give "[secret redacted]". Zero overwrites the bytes in place, so a secret
// retired by one holder is erased for every holder of the same slice.
//
// The bytes are reachable with []byte(s) for the primitives that need them;
// code must never log or return them in an error.
type Secret []byte

// String redacts.
func (s Secret) String() string { return redacted }

// GoString redacts.
func (s Secret) GoString() string { return redacted }

// Format redacts for every verb, so %x and %v cannot reveal the bytes.
func (s Secret) Format(f fmt.State, verb rune) { fmt.Fprint(f, redacted) }

// MarshalText redacts.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// MarshalJSON redacts.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Len is the length of the secret in bytes.
func (s Secret) Len() int { return len(s) }

// Equal reports whether s and o hold the same bytes, in time that depends
// only on their lengths.
func (s Secret) Equal(o Secret) bool { return subtle.ConstantTimeCompare(s, o) == 1 }

// Clone returns a copy with its own storage, for a holder that will Zero its
// copy independently.
func (s Secret) Clone() Secret {
	if s == nil {
		return nil
	}
	return append(Secret(make([]byte, 0, len(s))), s...)
}

// Zero overwrites the bytes with zeros in place.
func (s Secret) Zero() { clear(s) }

// Destroy zeros the bytes in place and drops the slice.
func (s *Secret) Destroy() {
	clear(*s)
	*s = nil
}
