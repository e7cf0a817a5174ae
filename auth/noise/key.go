package noise

import (
	"crypto/ecdh"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/conclave-go/conclave/auth"
)

// Provider is the provider name of Noise identities.
const Provider = "noise"

// KeySize is the size of X25519 private and public keys.
const KeySize = 32

// publicKeyPrefix starts the text form of a public key.
const publicKeyPrefix = "noise:"

// encodedKeyLen is the length of a key in standard base64.
var encodedKeyLen = base64.StdEncoding.EncodedLen(KeySize)

var (
	// ErrPublicKey: a public key's text or bytes refused.
	ErrPublicKey = errors.New("noise: invalid public key")
	// ErrLowOrder: a public key of small order, whose shared secrets are
	// known to everyone.
	ErrLowOrder = errors.New("noise: public key of small order")
)

// PublicKey is an X25519 public key: a Noise static key's identity.
type PublicKey [KeySize]byte

// String returns the key's text form, "noise:" and the standard base64 of
// its 32 bytes.
func (p PublicKey) String() string { return publicKeyPrefix + p.Name() }

// Name returns the standard base64 of the key's 32 bytes: the Name of its
// Identity.
func (p PublicKey) Name() string { return base64.StdEncoding.EncodeToString(p[:]) }

// Fingerprint returns auth.Fingerprint of the key's 32 bytes.
func (p PublicKey) Fingerprint() string { return auth.Fingerprint(p[:]) }

// Identity returns the key's identity.
func (p PublicKey) Identity() auth.Identity {
	return auth.Identity{Provider: Provider, Name: p.Name(), Fingerprint: p.Fingerprint()}
}

// Equal reports whether p and q are the same key, in constant time.
func (p PublicKey) Equal(q PublicKey) bool { return subtle.ConstantTimeCompare(p[:], q[:]) == 1 }

// ParsePublicKey parses a public key's text form ("noise:" and 44
// characters of standard, padded base64), strictly: nothing before or
// after, the one canonical encoding of the 32 bytes, and not a key of small
// order.
func ParsePublicKey(s string) (PublicKey, error) {
	rest, ok := strings.CutPrefix(s, publicKeyPrefix)
	if !ok {
		return PublicKey{}, fmt.Errorf("%w: want %q followed by base64", ErrPublicKey, publicKeyPrefix)
	}
	return parseName(rest)
}

// ParseIdentity returns the public key of a Noise identity.
func ParseIdentity(id auth.Identity) (PublicKey, error) {
	if id.Provider != Provider {
		return PublicKey{}, fmt.Errorf("%w: provider %q is not %q", ErrPublicKey, id.Provider, Provider)
	}
	return parseName(id.Name)
}

// parseName parses the standard base64 of a public key, strictly.
func parseName(s string) (PublicKey, error) {
	var p PublicKey
	b, err := decodeKey(s)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrPublicKey, err)
	}
	copy(p[:], b)
	if err := checkOrder(p); err != nil {
		return PublicKey{}, err
	}
	return p, nil
}

// decodeKey decodes exactly KeySize bytes from their canonical standard
// base64; the length is checked before decoding.
func decodeKey(s string) ([]byte, error) {
	if len(s) != encodedKeyLen {
		return nil, fmt.Errorf("want %d base64 characters, have %d", encodedKeyLen, len(s))
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != KeySize {
		return nil, errors.New("not canonical base64 of 32 bytes")
	}
	return b, nil
}

// orderProbe is a fixed scalar: a point of small order gives the all-zero
// shared secret with every scalar X25519 clamps, this one included.
var orderProbe = func() *ecdh.PrivateKey {
	var b [KeySize]byte
	for i := range b {
		b[i] = byte(i + 1)
	}
	k, err := ecdh.X25519().NewPrivateKey(b[:])
	if err != nil {
		panic(err)
	}
	return k
}()

// checkOrder refuses the public keys of small order.
func checkOrder(p PublicKey) error {
	pub, err := ecdh.X25519().NewPublicKey(p[:])
	if err != nil {
		return ErrPublicKey
	}
	if _, err := orderProbe.ECDH(pub); err != nil {
		return ErrLowOrder
	}
	return nil
}

// PrivateKey is an X25519 static key pair.
type PrivateKey struct {
	priv [KeySize]byte
	pub  PublicKey
}

// GenerateKey makes a new private key with randomness from rand.
func GenerateKey(rand io.Reader) (*PrivateKey, error) {
	if rand == nil {
		return nil, errors.New("noise: nil random source")
	}
	var b [KeySize]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("noise: reading randomness: %w", err)
	}
	clamp(&b)
	k, err := NewPrivateKey(b[:])
	clear(b[:])
	return k, err
}

// clamp sets the bits X25519 ignores as X25519 would (RFC 7748, section 5),
// so that each key has one form: wg genkey writes its keys so too.
func clamp(b *[KeySize]byte) {
	b[0] &= 248
	b[31] &= 127
	b[31] |= 64
}

// NewPrivateKey returns the private key of the 32 bytes b (copied). b must
// be clamped (see RFC 7748, section 5): X25519 ignores 5 bits of a scalar,
// and a key whose ignored bits were set would have several forms, so
// several different files for one key.
func NewPrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != KeySize {
		return nil, fmt.Errorf("noise: private key of %d bytes, want %d", len(b), KeySize)
	}
	var c [KeySize]byte
	copy(c[:], b)
	clamp(&c)
	clamped := subtle.ConstantTimeCompare(c[:], b) == 1
	clear(c[:])
	if !clamped {
		return nil, errors.New("noise: private key not in clamped form")
	}
	e, err := ecdh.X25519().NewPrivateKey(b)
	if err != nil {
		return nil, errors.New("noise: invalid private key")
	}
	k := &PrivateKey{}
	copy(k.priv[:], b)
	copy(k.pub[:], e.PublicKey().Bytes())
	if err := checkOrder(k.pub); err != nil {
		// Unreachable for a clamped scalar times the base point, but
		// a key whose public half is refused must not be made.
		return nil, err
	}
	return k, nil
}

// Public returns the key's public half.
func (k *PrivateKey) Public() PublicKey { return k.pub }

// Bytes returns a copy of the key's 32 private bytes.
func (k *PrivateKey) Bytes() []byte { return append([]byte(nil), k.priv[:]...) }

// Zero overwrites the private bytes; the key is unusable afterwards.
func (k *PrivateKey) Zero() { clear(k.priv[:]) }
