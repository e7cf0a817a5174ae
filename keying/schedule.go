package keying

import (
	"errors"
	"fmt"
	"io"

	"github.com/conclave-go/conclave/crypto"
)

// The key schedule of RFC 9420 §8, for one epoch:
//
//	                 init_secret_[n-1]
//	                       |
//	                       v
//	commit_secret --> KDF.Extract
//	                       |
//	                       v
//	             ExpandWithLabel(., "joiner", GroupContext_[n], KDF.Nh)
//	                       |
//	                       v
//	                 joiner_secret
//	                       |
//	                       v
//	psk_secret (or 0) --> KDF.Extract
//	                       |
//	                       +--> DeriveSecret(., "welcome") = welcome_secret
//	                       |
//	                       v
//	             ExpandWithLabel(., "epoch", GroupContext_[n], KDF.Nh)
//	                       |
//	                       v
//	                 epoch_secret
//	                       |
//	                       +--> DeriveSecret(., <label>) = <secret>
//	                       |
//	                       v
//	             DeriveSecret(., "init") = init_secret_[n]
//
// Conclave uses no pre-shared keys, so psk_secret is the zero vector unless
// a caller passes one (the vectors do).

// Errors of the key schedule.
var (
	ErrSecretSize  = errors.New("keying: secret has the wrong size for the suite")
	ErrEpochGone   = errors.New("keying: epoch secrets destroyed")
	ErrTreeTaken   = errors.New("keying: secret tree already made from this epoch")
	ErrSuiteChange = errors.New("keying: group context names another cipher suite")
)

// Epoch holds one epoch's key schedule secrets. It is not safe for
// concurrent use. Accessors return the Epoch's own storage: callers must not
// modify or retain it past Destroy, which zeros every secret in place.
// An Epoch never prints its secrets.
type Epoch struct {
	suite *crypto.Suite
	epoch uint64

	joiner, welcome crypto.Secret

	senderData, encryption, exporter, external, confirmation,
	membership, resumption, authenticator, init crypto.Secret
}

// zeroSecret is the all-zero vector of the suite's hash size, which RFC 9420
// uses for an absent commit secret or PSK secret.
func zeroSecret(s *crypto.Suite) crypto.Secret { return make(crypto.Secret, s.HashSize()) }

// NewInitSecret draws the first epoch's init secret from rand (RFC 9420
// §11: a group's creator picks it at random).
func NewInitSecret(s *crypto.Suite, rand io.Reader) (crypto.Secret, error) {
	b := make(crypto.Secret, s.HashSize())
	if _, err := io.ReadFull(rand, b); err != nil {
		return nil, fmt.Errorf("keying: reading randomness: %w", err)
	}
	return b, nil
}

// checkSize refuses a secret of the wrong size; nil stands for the zero
// vector.
func checkSize(s *crypto.Suite, x crypto.Secret) (crypto.Secret, error) {
	if x == nil {
		return zeroSecret(s), nil
	}
	if len(x) != s.HashSize() {
		return nil, ErrSecretSize
	}
	return x, nil
}

// JoinerSecret computes the joiner secret of the epoch gc describes from the
// previous epoch's init secret and the commit secret (nil: the zero vector,
// for a commit without a path).
func JoinerSecret(s *crypto.Suite, initSecret, commitSecret crypto.Secret, gc *GroupContext) (crypto.Secret, error) {
	if len(initSecret) != s.HashSize() {
		return nil, ErrSecretSize
	}
	commit, err := checkSize(s, commitSecret)
	if err != nil {
		return nil, err
	}
	ctx, err := gc.Bytes()
	if err != nil {
		return nil, err
	}
	prk := s.Extract(initSecret, commit)
	defer prk.Zero()
	return s.ExpandWithLabel(prk, "joiner", ctx, s.HashSize())
}

// WelcomeSecret computes the welcome secret from the joiner secret and the
// PSK secret (nil: the zero vector): what a joiner needs to open the
// GroupInfo of a Welcome before it knows the group context.
func WelcomeSecret(s *crypto.Suite, joinerSecret, pskSecret crypto.Secret) (crypto.Secret, error) {
	if len(joinerSecret) != s.HashSize() {
		return nil, ErrSecretSize
	}
	psk, err := checkSize(s, pskSecret)
	if err != nil {
		return nil, err
	}
	mid := s.Extract(joinerSecret, psk)
	defer mid.Zero()
	return s.DeriveSecret(mid, "welcome"), nil
}

// WelcomeKeyNonce derives the AEAD key and nonce that protect a Welcome's
// GroupInfo (RFC 9420 §12.4.3.1).
func WelcomeKeyNonce(s *crypto.Suite, welcomeSecret crypto.Secret) (key, nonce crypto.Secret, err error) {
	if key, err = s.ExpandWithLabel(welcomeSecret, "key", nil, s.KeySize()); err != nil {
		return nil, nil, err
	}
	if nonce, err = s.ExpandWithLabel(welcomeSecret, "nonce", nil, s.NonceSize()); err != nil {
		return nil, nil, err
	}
	return key, nonce, nil
}

// NewEpoch runs the key schedule for the epoch gc describes, from the
// previous epoch's init secret (or a new group's random one), the commit
// secret and the PSK secret (nil: the zero vector). The suite must be gc's.
func NewEpoch(s *crypto.Suite, initSecret, commitSecret, pskSecret crypto.Secret, gc *GroupContext) (*Epoch, error) {
	if gc.Suite != s.ID() {
		return nil, ErrSuiteChange
	}
	joiner, err := JoinerSecret(s, initSecret, commitSecret, gc)
	if err != nil {
		return nil, err
	}
	e, err := JoinEpoch(s, joiner, pskSecret, gc)
	if err != nil {
		joiner.Zero()
		return nil, err
	}
	return e, nil
}

// JoinEpoch runs the key schedule from the joiner secret, as a joiner does
// with the one a Welcome carries. The Epoch takes ownership of joinerSecret.
func JoinEpoch(s *crypto.Suite, joinerSecret, pskSecret crypto.Secret, gc *GroupContext) (*Epoch, error) {
	if gc.Suite != s.ID() {
		return nil, ErrSuiteChange
	}
	if len(joinerSecret) != s.HashSize() {
		return nil, ErrSecretSize
	}
	psk, err := checkSize(s, pskSecret)
	if err != nil {
		return nil, err
	}
	ctx, err := gc.Bytes()
	if err != nil {
		return nil, err
	}
	mid := s.Extract(joinerSecret, psk)
	defer mid.Zero()
	epochSecret, err := s.ExpandWithLabel(mid, "epoch", ctx, s.HashSize())
	if err != nil {
		return nil, err
	}
	defer epochSecret.Zero()
	d := func(label string) crypto.Secret { return s.DeriveSecret(epochSecret, label) }
	return &Epoch{
		suite:         s,
		epoch:         gc.Epoch,
		joiner:        joinerSecret,
		welcome:       s.DeriveSecret(mid, "welcome"),
		senderData:    d("sender data"),
		encryption:    d("encryption"),
		exporter:      d("exporter"),
		external:      d("external"),
		confirmation:  d("confirm"),
		membership:    d("membership"),
		resumption:    d("resumption"),
		authenticator: d("authentication"),
		init:          d("init"),
	}, nil
}

// Next runs the key schedule for the next epoch, which gc describes, from
// e's init secret. e is left as it is: the caller destroys it once the new
// epoch is confirmed.
func (e *Epoch) Next(commitSecret, pskSecret crypto.Secret, gc *GroupContext) (*Epoch, error) {
	if e.init == nil {
		return nil, ErrEpochGone
	}
	return NewEpoch(e.suite, e.init, commitSecret, pskSecret, gc)
}

// Suite is the epoch's cipher suite.
func (e *Epoch) Suite() *crypto.Suite { return e.suite }

// Number is the epoch number of the group context the epoch was made from.
func (e *Epoch) Number() uint64 { return e.epoch }

// JoinerSecret is the secret a Welcome gives joiners (RFC 9420 §12.4.3.1).
func (e *Epoch) JoinerSecret() crypto.Secret { return e.joiner }

// WelcomeSecret keys the GroupInfo of this epoch's Welcomes.
func (e *Epoch) WelcomeSecret() crypto.Secret { return e.welcome }

// SenderDataSecret keys the sender data of protected messages.
func (e *Epoch) SenderDataSecret() crypto.Secret { return e.senderData }

// EncryptionSecret is the secret tree's root; nil once NewSecretTree took it.
func (e *Epoch) EncryptionSecret() crypto.Secret { return e.encryption }

// ExporterSecret is the root of Export.
func (e *Epoch) ExporterSecret() crypto.Secret { return e.exporter }

// ExternalSecret derives the external key pair.
func (e *Epoch) ExternalSecret() crypto.Secret { return e.external }

// ConfirmationKey keys the confirmation tag.
func (e *Epoch) ConfirmationKey() crypto.Secret { return e.confirmation }

// MembershipKey keys the membership tag of public messages.
func (e *Epoch) MembershipKey() crypto.Secret { return e.membership }

// ResumptionPSK is the epoch's resumption PSK.
func (e *Epoch) ResumptionPSK() crypto.Secret { return e.resumption }

// EpochAuthenticator is a secret every member of the epoch shares, for
// comparing out of band.
func (e *Epoch) EpochAuthenticator() crypto.Secret { return e.authenticator }

// InitSecret seeds the next epoch's key schedule.
func (e *Epoch) InitSecret() crypto.Secret { return e.init }

// ExternalKeyPair derives the epoch's external HPKE key pair from the
// external secret (RFC 9420 §8).
func (e *Epoch) ExternalKeyPair() (*crypto.KEMPrivateKey, error) {
	if e.external == nil {
		return nil, ErrEpochGone
	}
	return e.suite.DeriveKeyPair(e.external)
}

// ConfirmationTag is MAC(confirmation_key, confirmed_transcript_hash)
// (RFC 9420 §8.1).
func (e *Epoch) ConfirmationTag(confirmedTranscriptHash []byte) []byte {
	return e.suite.MAC(e.confirmation, confirmedTranscriptHash)
}

// VerifyConfirmationTag reports, in constant time, whether tag is the
// epoch's confirmation tag over confirmedTranscriptHash.
func (e *Epoch) VerifyConfirmationTag(confirmedTranscriptHash, tag []byte) bool {
	if e.confirmation == nil {
		return false
	}
	return e.suite.VerifyMAC(e.confirmation, confirmedTranscriptHash, tag)
}

// Export is the MLS exporter (RFC 9420 §8.5): a secret of length bytes,
// derived for an application's label and context:
//
//	MLS-Exporter(Label, Context, Length) =
//	    ExpandWithLabel(DeriveSecret(exporter_secret, Label),
//	                    "exported", Hash(Context), Length)
func (e *Epoch) Export(label string, context []byte, length int) (crypto.Secret, error) {
	if e.exporter == nil {
		return nil, ErrEpochGone
	}
	s := e.suite.DeriveSecret(e.exporter, label)
	defer s.Zero()
	return e.suite.ExpandWithLabel(s, "exported", e.suite.Hash(context), length)
}

// SenderDataKeyNonce derives the key and nonce that protect the sender
// data of a message whose ciphertext starts with ciphertext (RFC 9420
// §6.3.2): the sample is the first KDF.Nh bytes, or all if fewer.
func SenderDataKeyNonce(s *crypto.Suite, senderDataSecret crypto.Secret, ciphertext []byte) (key, nonce crypto.Secret, err error) {
	sample := ciphertext
	if len(sample) > s.HashSize() {
		sample = sample[:s.HashSize()]
	}
	if key, err = s.ExpandWithLabel(senderDataSecret, "key", sample, s.KeySize()); err != nil {
		return nil, nil, err
	}
	if nonce, err = s.ExpandWithLabel(senderDataSecret, "nonce", sample, s.NonceSize()); err != nil {
		return nil, nil, err
	}
	return key, nonce, nil
}

// NewSecretTree makes the epoch's secret tree for leafCount leaves from the
// encryption secret, which passes to the tree: the epoch forgets it, so the
// tree can be made only once.
func (e *Epoch) NewSecretTree(leafCount uint32) (*SecretTree, error) {
	if e.encryption == nil {
		return nil, ErrTreeTaken
	}
	t, err := NewSecretTree(e.suite, e.encryption, leafCount)
	if err != nil {
		return nil, err
	}
	e.encryption = nil
	return t, nil
}

// Destroy zeros every secret of the epoch in place. The epoch is unusable
// afterwards.
func (e *Epoch) Destroy() {
	for _, s := range e.secrets() {
		s.Destroy()
	}
}

func (e *Epoch) secrets() []*crypto.Secret {
	return []*crypto.Secret{
		&e.joiner, &e.welcome, &e.senderData, &e.encryption, &e.exporter,
		&e.external, &e.confirmation, &e.membership, &e.resumption,
		&e.authenticator, &e.init,
	}
}

// String names the epoch and never its secrets.
func (e Epoch) String() string {
	return fmt.Sprintf("keying.Epoch{%v, epoch %d, secrets redacted}", e.suite, e.epoch)
}

// GoString is String.
func (e Epoch) GoString() string { return e.String() }

// Format prints String for every verb.
func (e Epoch) Format(f fmt.State, verb rune) { fmt.Fprint(f, e.String()) }
