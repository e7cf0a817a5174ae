package secure

import "github.com/conclave-go/conclave/crypto"

// The private point-to-point layer's view of the keys (layers/private.Keys):
// the members' leaf HPKE keys of the epoch's ratchet tree, to which a
// member encrypts the secret of a pair key, and the signature keys
// (SenderSign and SenderVerify) with which the sender signs it.

// PairSuite is the epoch's cipher suite.
func (k *EpochKeys) PairSuite() *crypto.Suite { return k.Suite }

// PairEpoch is the epoch number.
func (k *EpochKeys) PairEpoch() uint64 { return k.Epoch }

// PairPublicKey is the leaf HPKE public key of the member of the given rank
// in the view, nil for a rank outside it or a key that does not parse.
func (k *EpochKeys) PairPublicKey(rank int) *crypto.KEMPublicKey {
	if rank < 0 || rank >= len(k.LeafPublicKeys) {
		return nil
	}
	pub, err := k.Suite.ParseKEMPublicKey(k.LeafPublicKeys[rank])
	if err != nil {
		return nil
	}
	return pub
}

// PairPrivateKey is this member's leaf HPKE private key, nil once released.
func (k *EpochKeys) PairPrivateKey() *crypto.KEMPrivateKey { return k.LeafPrivateKey }
