package sign

import "github.com/conclave-go/conclave/layers"

// Keys is what the layer needs of a view's key material (layers.Config.Keys):
// this member's signature private key and every member's public key, by
// rank in the view. A secure group's keys (membership/secure.EpochKeys)
// implement it; a stack whose Keys do not, or that has none, neither sends
// nor delivers any multicast (counted as "unprotected"), since it could
// not tell a member's multicasts from another member's forgeries.
//
// The methods are named for the sender signatures they serve, so that they
// cannot clash with the fields or other layers' methods of the same
// material.
type Keys interface {
	layers.Keys
	// SenderSign signs content under label with this member's signature
	// key (the suite's labelled signature, RFC 9420 §5.1.2). It fails once
	// the keys are released.
	SenderSign(label string, content []byte) ([]byte, error)
	// SenderVerify reports whether sig is a signature under label over
	// content by the member of the given rank in the view. A rank outside
	// the view verifies nothing.
	SenderVerify(rank int, label string, content, sig []byte) bool
}

// Label is the signature label of a batch: it keeps a batch signature from
// passing for any other signature the same keys make (admission, commits).
const Label = "conclave multicast batch"
