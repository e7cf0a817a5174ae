package hostile

import (
	"encoding/binary"
	"math"
)

// Encoding is how a number is put on the wire.
type Encoding uint8

// Encodings of a number. Only Minimal is valid Conclave wire format: the
// others must be refused by every decoder.
const (
	Minimal    Encoding = iota // the one valid varint encoding
	NonMinimal                 // the same value with a redundant 0x80 … 0x00 tail
	Overlong                   // eleven bytes: longer than any uint64 varint
	Truncated                  // continuation bit set on the last byte
)

// AppendVarint appends v in encoding e.
func AppendVarint(b []byte, v uint64, e Encoding) []byte {
	switch e {
	case NonMinimal:
		// Set the continuation bit on the last byte and add a zero byte:
		// the value decodes the same, one byte longer. A 10-byte varint
		// has no room left and becomes overlong instead.
		start := len(b)
		b = binary.AppendUvarint(b, v)
		if len(b)-start == binary.MaxVarintLen64 {
			return append(b[:start], overlong...)
		}
		b[len(b)-1] |= 0x80
		return append(b, 0)
	case Overlong:
		return append(b, overlong...)
	case Truncated:
		b = binary.AppendUvarint(b, v)
		b[len(b)-1] |= 0x80
		return b
	}
	return binary.AppendUvarint(b, v)
}

var overlong = []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}

// Window is what an attacker knows of one stream at its victim: the
// receiver's log, as layers/mnak's Progress or pt2pt's incoming stream
// report it, and the size of its receive window.
type Window struct {
	Low   uint64 // lowest sequence number still held
	Next  uint64 // the next to deliver: everything below was delivered
	Known uint64 // one past the highest known to exist
	Size  uint64 // the receive window: sequence numbers at or beyond Low+Size are refused
	// Ahead is how far beyond Next the legitimate sender may still send
	// in this view. With Target.Safe, numbers in [Next, Next+Ahead) are
	// never chosen: a forgery there could displace the real message.
	Ahead uint64
}

// Seqs lists the hostile sequence numbers for w: 0, around Next, the
// window's edges (Low+Size−1, Low+Size, Low+Size+1), far beyond it, and
// near and at 2^64−1. Values are computed with saturating arithmetic, so
// the list has no wrapped-around value. With safe, those that could
// displace a legitimate message (in [Next, Next+Ahead)) are left out.
func (w Window) Seqs(safe bool) []uint64 {
	edge := sat(w.Low, w.Size)
	cands := []uint64{
		0, 1, w.Next - min(w.Next, 1), w.Next, w.Next + 1,
		edge - min(edge, 1), edge, sat(edge, 1), sat(edge, 65535), sat(w.Known, w.Size),
		sat(w.Next, w.Ahead), sat(w.Next, w.Ahead+1),
		math.MaxInt64, 1 << 63, math.MaxUint64 - w.Size, math.MaxUint64 - 1, math.MaxUint64,
	}
	out := cands[:0]
	for _, v := range cands {
		if safe && v >= w.Next && v-w.Next < w.Ahead {
			continue
		}
		out = append(out, v)
	}
	return out
}

// sat is a+b, or 2^64−1 when that overflows.
func sat(a, b uint64) uint64 {
	if a > math.MaxUint64-b {
		return math.MaxUint64
	}
	return a + b
}

// Huge lists numbers no honest count ever reaches.
var Huge = []uint64{1 << 32, math.MaxInt64, 1 << 63, math.MaxUint64 - 1, math.MaxUint64}

// Count picks a count or length: small, at a bound, just past it, or huge.
func Count(src Source, bound uint64) uint64 {
	switch src.IntN(6) {
	case 0:
		return 0
	case 1:
		return 1
	case 2:
		return bound
	case 3:
		return sat(bound, 1)
	case 4:
		return Huge[src.IntN(len(Huge))]
	}
	return src.Uint64() % sat(bound, 2)
}

func pick[T any](src Source, xs []T) T { return xs[src.IntN(len(xs))] }
