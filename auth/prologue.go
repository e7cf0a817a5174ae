package auth

import "encoding/binary"

// prologueLabel starts every prologue, so that a prologue of this scheme is
// never equal to one of another.
const prologueLabel = "conclave auth prologue v1"

// Prologue returns the bytes every provider binds into its handshake's
// transcript for one admission attempt: the label "conclave auth prologue
// v1", then nonce (the coordinator's fresh nonce), the initiator's endpoint
// and the responder's endpoint, each preceded by its length as a 4-byte
// big-endian integer, so that no two different triples give the same bytes.
// Endpoints are in whatever byte form the caller uses for them; both sides
// must use the same. It panics if any part is 4 GiB or longer.
func Prologue(nonce, initiator, responder []byte) []byte {
	parts := [...][]byte{nonce, initiator, responder}
	n := len(prologueLabel)
	for _, p := range parts {
		if uint64(len(p)) > 0xffffffff {
			panic("auth: prologue part too long")
		}
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	b = append(b, prologueLabel...)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}
