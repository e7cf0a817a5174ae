package encrypt

import (
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// aadBlock is the block of GHASH and Poly1305, the authenticators of the
// suites' AEADs. The additional data is padded with zeros to a whole
// number of blocks: AES-GCM's assembly authenticates whole blocks at full
// speed but the bytes of a last, partial block one at a time, which at 64
// bytes of payload costs as much as all the rest of the layer's work. The
// padding is a function of the length of what precedes it, which is
// self-delimiting (fixed fields and uvarints): two datagrams with
// different fields still have different additional data.
const aadBlock = 16

// additional builds the additional data of a datagram of type t from
// sender to dest (a rank, or layers.AllPeers) into l.aad: the mode, the
// bottom header exactly as the bottom layer writes it, the destination,
// zeros up to a multiple of aadBlock bytes. The mode, version, group and
// view are the same for every datagram of the view: Init writes them
// once, at the front of l.aad, and leaves room behind them for the rest,
// the padding and, in integrity-only mode, the largest payload, so that
// nothing here or in the callers' appends allocates.
func (l *Layer) additional(sender int, t layers.Type, dest int) []byte {
	// The destination is 0 for every member, 1+rank for one. Below 127
	// members, both numbers take a byte: three stores at fixed places, and
	// one that clears the padding, whatever the buffer held. Small enough
	// to inline into Down and Up.
	if uint(sender)|uint(dest+1) < 0x80 {
		*l.tail = [3 + aadBlock]byte{byte(sender), byte(t), byte(dest + 1)}
		return l.short
	}
	return l.additionalLong(sender, t, dest)
}

// additionalLong is additional for a sender or destination of 127 or
// more.
func (l *Layer) additionalLong(sender int, t layers.Type, dest int) []byte {
	a := l.aad[:l.prefix]
	a = wire.AppendUvarint(a, uint64(sender))
	a = append(a, byte(t))
	a = wire.AppendUvarint(a, uint64(dest+1))
	n := len(a)
	*(*[aadBlock]byte)(a[n : n+aadBlock]) = [aadBlock]byte{}
	return a[:(n+aadBlock-1)&^(aadBlock-1)]
}

// AdditionalData returns the additional data the layer seals a datagram
// under: the mode (integrity-only or private), header (the datagram's
// bottom header, as on the wire), the destination (layers.AllPeers or a
// rank), zeros up to a whole number of blocks. It is for those who hold a
// view's keys outside a stack, such as a tool that shows what an evicted
// member can and cannot open; the layer builds the same bytes in place.
func AdditionalData(integrityOnly bool, header []byte, dest int) []byte {
	mode := byte(modePrivate)
	if integrityOnly {
		mode = modeIntegrity
	}
	a := append([]byte{mode}, header...)
	a = wire.AppendUvarint(a, uint64(dest+1))
	return append(a, make([]byte, (aadBlock-len(a)%aadBlock)%aadBlock)...)
}
