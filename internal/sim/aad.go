package sim

import (
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers/bottom"
)

// The attackers that open or seal data datagrams rebuild the encrypt
// layer's additional data from its wire format (layers/encrypt): the mode
// byte ('P' private, 'I' integrity-only), the bottom header exactly as on
// the wire, the destination (0 every member, 1+rank one), possibly
// followed by zeros up to a whole number of aadBlock bytes (the blocks of
// the suites' authenticators). The layer does not export it, so the
// readers try it with and without the padding, and a forgery copies the
// padding of the additional data the layer gave the sealer.

const aadBlock = 16

// additionalData is the additional data of a datagram with bottom header
// hdr in mode for dest, unpadded and padded; the two are the same when
// the unpadded one fills whole blocks.
func additionalData(mode byte, hdr []byte, dest uint64) [2][]byte {
	a := append([]byte{mode}, hdr...)
	a = wire.AppendUvarint(a, dest)
	return [2][]byte{a, pad(a)}
}

// pad is a copy of a with zeros up to a whole number of aadBlock bytes.
func pad(a []byte) []byte {
	out := make([]byte, (len(a)+aadBlock-1)/aadBlock*aadBlock)
	copy(out, a)
	return out
}

// isPadded reports whether aad, additional data the encrypt layer built,
// carries zeros after its destination.
func isPadded(aad []byte) bool {
	if len(aad) < 2 {
		return false
	}
	h, err := bottom.Parse(append(aad[1:len(aad):len(aad)], 0)) // Parse wants a payload after the header
	if err != nil {
		return false
	}
	r := wire.NewReader(aad[1+h.Len:])
	r.Uvarint()
	return r.Err() == nil && r.Len() > 0
}
