package hostile

import "encoding/binary"

// Source is where the generator's choices come from. *rand.Rand
// implements it.
type Source interface {
	// IntN returns a number in [0, n); n is at least 1.
	IntN(n int) int
	// Uint64 returns any 64-bit number.
	Uint64() uint64
}

// Bytes is a Source that reads a fuzzer's input. Once the input runs out
// every choice is zero, so any input makes a finite, valid sequence of
// choices.
type Bytes struct{ b []byte }

// NewBytes returns a Source reading b.
func NewBytes(b []byte) *Bytes { return &Bytes{b: b} }

// Len is the number of input bytes not yet used.
func (s *Bytes) Len() int { return len(s.b) }

// IntN implements Source: one byte for n up to 256, two above.
func (s *Bytes) IntN(n int) int {
	if n <= 1 {
		return 0
	}
	var v int
	switch {
	case len(s.b) == 0:
		return 0
	case n <= 256 || len(s.b) == 1:
		v, s.b = int(s.b[0]), s.b[1:]
	default:
		v, s.b = int(binary.BigEndian.Uint16(s.b)), s.b[2:]
	}
	return v % n
}

// Uint64 implements Source: up to eight bytes, big endian.
func (s *Bytes) Uint64() uint64 {
	var a [8]byte
	k := copy(a[:], s.b)
	s.b = s.b[k:]
	return binary.BigEndian.Uint64(a[:])
}
