package secure

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// Encodings of membership's names in the epochs' contexts and the
// rosters. They are injective, bounded, and parsed strictly.

// maxEndpointLen bounds an endpoint's encoding: it must fit in a
// ConclaveContext member entry beside its leaf index.
const maxEndpointLen = keying.MaxMemberIDLen - 4

// endpointBytes encodes e: its address (netip's binary form, zone
// included), its port and its incarnation, the address preceded by its
// length so that no two endpoints share an encoding.
func endpointBytes(e membership.Endpoint) ([]byte, error) {
	a, err := e.Addr.Addr().MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("secure: endpoint: %w", err)
	}
	if 1+len(a)+2+4 > maxEndpointLen {
		return nil, errors.New("secure: endpoint address too long")
	}
	b := append([]byte{byte(len(a))}, a...)
	b = binary.BigEndian.AppendUint16(b, e.Addr.Port())
	return binary.BigEndian.AppendUint32(b, e.Inc), nil
}

// viewIDBytes encodes a view id: its logical time and its coordinator.
func viewIDBytes(id membership.ViewID) ([]byte, error) {
	e, err := endpointBytes(id.Coord)
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, id.LTime), e...), nil
}

// memberEntry is one member's entry of an epoch's ConclaveContext: its
// endpoint's encoding and its leaf index.
func memberEntry(e membership.Endpoint, leaf uint32) ([]byte, error) {
	b, err := endpointBytes(e)
	if err != nil {
		return nil, err
	}
	return binary.BigEndian.AppendUint32(b, leaf), nil
}

// parseLeaf returns the leaf index of a member entry whose endpoint is e.
func parseLeaf(entry []byte, e membership.Endpoint) (uint32, bool) {
	want, err := endpointBytes(e)
	if err != nil || len(entry) != len(want)+4 || string(entry[:len(want)]) != string(want) {
		return 0, false
	}
	return binary.BigEndian.Uint32(entry[len(want):]), true
}

// maxProviderLen bounds an identity's provider name.
const maxProviderLen = 64

// identityBytes is an identity as a key package's basic credential
// carries it: the provider's length (one byte), the provider, the name.
func identityBytes(provider, name string) ([]byte, error) {
	if provider == "" || len(provider) > maxProviderLen || name == "" || 1+len(provider)+len(name) > keying.MaxIdentityLen {
		return nil, errors.New("secure: identity empty or too long for a credential")
	}
	b := append([]byte{byte(len(provider))}, provider...)
	return append(b, name...), nil
}

// splitIdentity reads a credential's identity as identityBytes made it:
// its provider and name, in one string (one allocation), the provider its
// first n bytes.
func splitIdentity(b []byte) (s string, n int, err error) {
	if len(b) < 2 || int(b[0]) == 0 || int(b[0]) > maxProviderLen || len(b) <= 1+int(b[0]) || len(b) > keying.MaxIdentityLen {
		return "", 0, errors.New("secure: malformed credential identity")
	}
	return string(b[1:]), int(b[0]), nil
}

// parseIdentity reads a credential's identity as identityBytes made it.
func parseIdentity(b []byte) (auth.Identity, error) {
	s, n, err := splitIdentity(b)
	if err != nil {
		return auth.Identity{}, err
	}
	return fullIdentity(s[:n], s[n:]), nil
}

// credentialIdentity is the identity of a leaf's basic credential.
func credentialIdentity(l *keying.LeafNode) (auth.Identity, error) {
	if l == nil || l.Credential.Type != keying.CredentialBasic {
		return auth.Identity{}, errors.New("secure: leaf without a basic credential")
	}
	return parseIdentity(l.Credential.Identity)
}

// leafMemberIdentity is the identity of a leaf's basic credential as
// membership names it: credentialIdentity without the display
// fingerprint, which membership does not keep and which costs a hash.
func leafMemberIdentity(l *keying.LeafNode) (membership.Identity, error) {
	if l == nil || l.Credential.Type != keying.CredentialBasic {
		return membership.Identity{}, errors.New("secure: leaf without a basic credential")
	}
	s, n, err := splitIdentity(l.Credential.Identity)
	if err != nil {
		return membership.Identity{}, err
	}
	return membership.Identity{Provider: s[:n], Name: s[n:]}, nil
}

// fullIdentity is the auth.Identity of a provider and name, with its
// display fingerprint where the provider's names can give one (Noise).
func fullIdentity(provider, name string) auth.Identity {
	id := auth.Identity{Provider: provider, Name: name}
	if provider == noise.Provider {
		// The fingerprint only: noise.ParseIdentity would also check the
		// key's order, a scalar multiplication, on every identity of
		// every epoch.
		if k, err := base64.StdEncoding.Strict().DecodeString(name); err == nil && len(k) == noise.KeySize {
			id.Fingerprint = auth.Fingerprint(k)
		}
	}
	return id
}

// memberIdentity is an auth identity as membership names it.
func memberIdentity(id auth.Identity) membership.Identity {
	return membership.Identity{Provider: id.Provider, Name: id.Name}
}
