package secure

import "errors"

// The sender authentication layer's view of the keys (layers/sign.Keys):
// this member's signature key and every member's public key, by rank,
// which are the leaves' signature keys of the epoch's ratchet tree, so a
// multicast's signature names the member the group admitted.

// SenderSign signs content under label with this member's signature key.
// It fails once the keys are released.
func (k *EpochKeys) SenderSign(label string, content []byte) ([]byte, error) {
	if k.SigningKey == nil {
		return nil, errors.New("secure: epoch keys released")
	}
	return k.Suite.SignWithLabel(k.SigningKey, label, content)
}

// SenderVerify reports whether sig is a signature under label over content
// by the member of the given rank in the view.
func (k *EpochKeys) SenderVerify(rank int, label string, content, sig []byte) bool {
	if rank < 0 || rank >= len(k.SignatureKeys) {
		return false
	}
	return k.Suite.VerifyWithLabel(k.SignatureKeys[rank], label, content, sig) == nil
}
