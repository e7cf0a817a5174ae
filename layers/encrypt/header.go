package encrypt

import (
	"math"

	"github.com/conclave-go/conclave/keying"
)

// The layer's header, in wire order (see the package doc): the
// destination byte, the generation and the counter, both minimal
// uvarints. It is read and written here by hand rather than with
// internal/wire's Reader: it is on every datagram's path, and the two
// numbers are almost always one byte each.

// maxGenerationLen and maxCounterLen are the longest uvarints of a
// generation (below 2^32) and a counter (below keying.DatagramsPerBlock).
const (
	maxGenerationLen = 5
	maxCounterLen    = 3
)

// appendHeader appends the header of datagram (gen, counter) for
// destination flag to b. The counter is below keying.DatagramsPerBlock:
// three bytes at most.
func appendHeader(b []byte, flag byte, gen, counter uint32) []byte {
	if gen < 0x80 {
		b = append(b, flag, byte(gen))
	} else {
		b = append(b, flag)
		for gen >= 0x80 {
			b = append(b, byte(gen)|0x80)
			gen >>= 7
		}
		b = append(b, byte(gen))
	}
	switch {
	case counter < 1<<7:
		return append(b, byte(counter))
	case counter < 1<<14:
		return append(b, byte(counter)|0x80, byte(counter>>7))
	default:
		return append(b, byte(counter)|0x80, byte(counter>>7)|0x80, byte(counter>>14))
	}
}

// parseHeader reads the header at the front of b. n is its length, 0 if
// b does not start with a header whose destination byte is destAll or
// destThis and whose numbers are minimal uvarints within their bounds: the
// headers internal/wire's Reader.UvarintMax accepts. Shorter than
// MaxHeader, b holds no datagram (a header, a byte and the tag): it is
// refused before any byte is read, and no read below goes past b.
func parseHeader(b []byte) (flag byte, gen, counter uint32, n int) {
	if len(b) < MaxHeader {
		return 0, 0, 0, 0
	}
	h := (*[MaxHeader]byte)(b)
	flag = h[0]
	if flag > destThis {
		return 0, 0, 0, 0
	}
	// A generation takes one byte for the first 2^23 datagrams of a
	// sender in a view.
	i := 2
	if g := h[1]; g < 0x80 {
		gen = uint32(g)
	} else {
		v, gn := uvarint(h[1 : 1+maxGenerationLen])
		if gn == 0 || v > math.MaxUint32 {
			return 0, 0, 0, 0
		}
		gen, i = uint32(v), 1+gn
	}
	// The counter, a minimal uvarint below keying.DatagramsPerBlock,
	// unrolled here rather than called: most counters take three bytes.
	c := (*[maxCounterLen]byte)(h[i : i+maxCounterLen])
	switch {
	case c[0] < 0x80:
		return flag, gen, uint32(c[0]), i + 1
	case c[1] < 0x80:
		// A final zero byte means a shorter encoding exists.
		if c[1] == 0 {
			return 0, 0, 0, 0
		}
		return flag, gen, uint32(c[0]&0x7f) | uint32(c[1])<<7, i + 2
	case c[2] == 0 || c[2] >= 0x80:
		// A final zero byte means a shorter encoding exists; a third byte
		// with its top bit set would start a number of 2^21 or more.
		return 0, 0, 0, 0
	}
	counter = uint32(c[0]&0x7f) | uint32(c[1]&0x7f)<<7 | uint32(c[2])<<14
	if counter >= keying.DatagramsPerBlock {
		return 0, 0, 0, 0
	}
	return flag, gen, counter, i + 3
}

// uvarint reads a minimal uvarint of at most len(b) bytes, at most 9, from
// the front of b: the value fits in 63 bits, no shift overflows. n is its
// length, 0 if b starts with none.
func uvarint(b []byte) (v uint64, n int) {
	for i, c := range b {
		v |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			// A final zero byte means a shorter encoding exists.
			if i > 0 && c == 0 {
				return 0, 0
			}
			return v, i + 1
		}
	}
	return 0, 0
}
