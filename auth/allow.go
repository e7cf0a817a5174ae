package auth

import (
	"errors"
	"strings"
)

// ErrNotAllowed is what the admission check made by Allow returns (wrapped,
// naming the identity) for an identity not on its list.
var ErrNotAllowed = errors.New("auth: identity not on the allow list")

// Allow returns an admission check that admits exactly the identities
// named, each in its text form as Identity.String writes it: the provider,
// a colon, and the name. For a Noise key that is the public key as
// keyadmin pubkey prints it, "noise:" and 44 characters of base64. The
// provider (up to the first colon) and the name are compared whole, byte for
// byte: a fingerprint is never enough, and a name in any other form admits
// nobody. The list is copied.
func Allow(names ...string) func(Identity) error {
	type key struct{ provider, name string }
	allowed := make(map[key]bool, len(names))
	for _, n := range names {
		if p, name, ok := strings.Cut(n, ":"); ok {
			allowed[key{p, name}] = true
		}
	}
	return func(id Identity) error {
		if allowed[key{id.Provider, id.Name}] {
			return nil
		}
		return &notAllowedError{id}
	}
}

// notAllowedError names the identity refused: a public name, never a
// secret, so that the person running the refused process knows which key
// to have allowed.
type notAllowedError struct{ id Identity }

func (e *notAllowedError) Error() string {
	s := "auth: " + e.id.String()
	if e.id.Fingerprint != "" {
		s += " (fingerprint " + e.id.Fingerprint + ")"
	}
	return s + " is not on the allow list"
}

func (e *notAllowedError) Is(target error) bool { return target == ErrNotAllowed }
