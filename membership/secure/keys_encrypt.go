package secure

import (
	"errors"

	"github.com/conclave-go/conclave/keying"
)

// ApplicationRatchet implements encrypt.Keys: the application ratchet of
// the leaf of the member of rank r, from the epoch's secret tree. The
// encrypt layer owns these ratchets: a key taken from them elsewhere would
// be one the layer also uses, with the same nonces.
func (k *EpochKeys) ApplicationRatchet(r int) (*keying.Ratchet, error) {
	if k.Tree == nil {
		return nil, errors.New("secure: epoch keys released")
	}
	if r < 0 || r >= len(k.Leaves) {
		return nil, errors.New("secure: rank outside the view")
	}
	return k.Tree.Ratchet(k.Leaves[r], keying.ApplicationRatchet)
}
