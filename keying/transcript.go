package keying

import (
	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// The transcript hashes of RFC 9420 §8.2, which chain every commit into the
// group context:
//
//	confirmed_transcript_hash_[n] =
//	    Hash(interim_transcript_hash_[n-1] || ConfirmedTranscriptHashInput_[n])
//	interim_transcript_hash_[n] =
//	    Hash(confirmed_transcript_hash_[n] || InterimTranscriptHashInput_[n])
//
// where InterimTranscriptHashInput is struct { MAC confirmation_tag; }, the
// tag encoded as opaque<V>. The interim hash of a new group's first epoch is
// the empty string.

// ConfirmedTranscriptHash is the confirmed transcript hash after a commit
// whose encoded ConfirmedTranscriptHashInput (wire format, framed content,
// signature) is input.
func ConfirmedTranscriptHash(s *crypto.Suite, interimBefore, input []byte) []byte {
	h := s.NewHash()
	h.Write(interimBefore)
	h.Write(input)
	return h.Sum(nil)
}

// InterimTranscriptHash is the interim transcript hash after a commit with
// the given confirmed transcript hash and confirmation tag.
func InterimTranscriptHash(s *crypto.Suite, confirmed, confirmationTag []byte) []byte {
	w := mlsenc.NewWriter(make([]byte, 0, len(confirmed)+1+len(confirmationTag)))
	w.Raw(confirmed)
	w.Opaque(confirmationTag)
	b, _ := w.Bytes() // a tag is a hash output: its length always encodes
	return s.Hash(b)
}
