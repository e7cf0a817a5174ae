package noise

import (
	"errors"
	"io"

	"github.com/conclave-go/conclave/auth"
)

// Credential is a Noise static key as an auth.Credential.
type Credential struct {
	key *PrivateKey
}

var _ auth.Credential = (*Credential)(nil)

// NewCredential returns the credential of key. The key is used, not copied:
// zeroing it makes the credential unusable.
func NewCredential(key *PrivateKey) *Credential { return &Credential{key: key} }

// Provider returns "noise".
func (c *Credential) Provider() string { return Provider }

// Identity returns the identity of the credential's public key.
func (c *Credential) Identity() auth.Identity { return c.key.pub.Identity() }

// Initiate starts the initiator's side: IK when peer is not nil (the
// responder must then prove peer's key; peer must be a Noise identity),
// XX otherwise.
func (c *Credential) Initiate(prologue []byte, peer *auth.Identity, rand io.Reader) (auth.Handshake, error) {
	if rand == nil {
		return nil, errors.New("noise: nil random source")
	}
	if peer == nil {
		return newInitiator(c.key, prologue, patternXX, nil, rand)
	}
	p, err := ParseIdentity(*peer)
	if err != nil {
		return nil, err
	}
	return newInitiator(c.key, prologue, patternIK, &p, rand)
}

// Respond starts the responder's side; the initiator's first message says
// whether it runs XX or IK.
func (c *Credential) Respond(prologue []byte, rand io.Reader) (auth.Handshake, error) {
	if rand == nil {
		return nil, errors.New("noise: nil random source")
	}
	return newResponder(c.key, prologue, rand), nil
}
