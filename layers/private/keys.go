package private

import (
	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
)

// Keys is what the layer needs of a view's key material (layers.Config.Keys):
// the epoch's cipher suite and number, the members' leaf HPKE keys of the
// epoch, and their signature keys, with which a sender signs the pair keys
// it establishes. A secure group's keys (membership/secure.EpochKeys) implement
// it; a stack whose Keys do not, or that has none, refuses every Send to
// another member (counted as "unprotected") rather than send it readable.
//
// The Pair methods are named for the keys they serve, so that they cannot
// clash with the fields or other layers' methods of the same material; the
// Sender methods are those of the sender authentication layer's Keys.
type Keys interface {
	layers.Keys
	// PairSuite is the epoch's cipher suite: its HPKE, KDF and AEAD.
	PairSuite() *crypto.Suite
	// PairEpoch is the epoch number.
	PairEpoch() uint64
	// PairPublicKey is the leaf HPKE public key of the epoch of the member
	// of the given rank in the view, nil if there is none.
	PairPublicKey(rank int) *crypto.KEMPublicKey
	// PairPrivateKey is this member's leaf HPKE private key of the epoch,
	// nil once released.
	PairPrivateKey() *crypto.KEMPrivateKey
	// SenderSign signs content under label (crypto.Suite.SignWithLabel)
	// with this member's signature key; it fails once released.
	SenderSign(label string, content []byte) ([]byte, error)
	// SenderVerify reports whether sig is a signature under label over
	// content by the member of the given rank in the view.
	SenderVerify(rank int, label string, content, sig []byte) bool
}
