// Package wire holds the strict decoding helpers shared by every layer's
// header parser.
//
// Conclave headers are compact: unsigned varints for numbers, single bytes
// for tags. Every reader here is bounds-checked and refuses non-minimal
// varints, so that each value has exactly one encoding (no malleability) and
// a hostile datagram can never make a parser read past its end.
package wire

import (
	"encoding/binary"
	"errors"
)

// Errors returned by the readers. They carry no data from the input.
var (
	ErrShort     = errors.New("wire: truncated input")
	ErrVarint    = errors.New("wire: malformed varint")
	ErrTrailing  = errors.New("wire: trailing bytes")
	ErrTooLarge  = errors.New("wire: value out of range")
	ErrBadTag    = errors.New("wire: unknown tag")
	ErrBadVector = errors.New("wire: malformed vector")
)

// Uvarint decodes a minimal unsigned varint from the front of b and returns
// the value and the number of bytes read.
func Uvarint(b []byte) (uint64, int, error) {
	v, n := binary.Uvarint(b)
	switch {
	case n == 0:
		return 0, 0, ErrShort
	case n < 0:
		return 0, 0, ErrVarint
	case n > 1 && b[n-1] == 0:
		// A final zero byte means a shorter encoding of the same value exists.
		return 0, 0, ErrVarint
	}
	return v, n, nil
}

// UvarintLen is the encoded length of v.
func UvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// Reader consumes a byte slice from the front. The first error sticks: every
// later read returns zero and Err reports it, so parsers can read a whole
// header and check once.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader over b.
func NewReader(b []byte) Reader { return Reader{b: b} }

// Err is the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Rest returns the unread bytes.
func (r *Reader) Rest() []byte { return r.b }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Fail records err (if no error is recorded yet) and stops the reader, for
// parsers that find the input wrong in a way the reader cannot see.
func (r *Reader) Fail(err error) { r.fail(err) }

func (r *Reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Byte reads one byte.
func (r *Reader) Byte() byte {
	if len(r.b) < 1 {
		r.fail(ErrShort)
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// Uvarint reads a minimal varint.
func (r *Reader) Uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := Uvarint(r.b)
	if err != nil {
		r.fail(err)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// UvarintMax reads a varint and fails if it exceeds max.
func (r *Reader) UvarintMax(max uint64) uint64 {
	v := r.Uvarint()
	if v > max {
		r.fail(ErrTooLarge)
		return 0
	}
	return v
}

// Uint64 reads a fixed 8-byte big-endian value.
func (r *Reader) Uint64() uint64 {
	if len(r.b) < 8 {
		r.fail(ErrShort)
		return 0
	}
	v := binary.BigEndian.Uint64(r.b)
	r.b = r.b[8:]
	return v
}

// Bytes reads n bytes without copying.
func (r *Reader) Bytes(n int) []byte {
	if n < 0 || len(r.b) < n {
		r.fail(ErrShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Done fails with ErrTrailing if unread bytes remain, and returns Err.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.fail(ErrTrailing)
	}
	return r.err
}

// AppendUvarint appends v as a varint.
func AppendUvarint(b []byte, v uint64) []byte { return binary.AppendUvarint(b, v) }

// AppendUint64 appends v as 8 big-endian bytes.
func AppendUint64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }
