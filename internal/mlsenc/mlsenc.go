// Package mlsenc is the TLS presentation-language encoding that RFC 9420
// (MLS) uses for its structures: fixed-width big-endian integers, and
// variable-length vectors whose length is a QUIC-style variable-length
// integer (RFC 9420 §2.1.2).
//
// Decoding is strict so that every value has exactly one encoding (no
// malleability) and a hostile input cannot make a parser over-allocate or
// read past its end: every vector length is checked against a caller-given
// bound and against the bytes actually present before anything is sliced,
// varints must be minimal, the reserved 0b11 varint prefix is refused, and
// Done refuses trailing bytes.
//
// The manner follows internal/wire: a Reader whose first error sticks, so a
// parser can read a whole structure and check once; and a Writer that
// appends.
package mlsenc

import (
	"encoding/binary"
	"errors"
)

// MaxVarint is the largest value a variable-length integer can carry: RFC
// 9420 §2.1.2 uses the 1-, 2- and 4-byte forms of QUIC's encoding only, so
// 30 bits.
const MaxVarint = 1<<30 - 1

// Errors returned by the Reader and Writer. They carry no data from the
// input.
var (
	ErrShort      = errors.New("mlsenc: truncated input")
	ErrVarint     = errors.New("mlsenc: malformed variable-length integer")
	ErrTrailing   = errors.New("mlsenc: trailing bytes")
	ErrTooLarge   = errors.New("mlsenc: vector longer than allowed")
	ErrBool       = errors.New("mlsenc: boolean not 0 or 1")
	ErrNoProgress = errors.New("mlsenc: vector element consumed no bytes")
)

// VarintLen is the encoded length of v, or 0 if v exceeds MaxVarint.
func VarintLen(v uint64) int {
	switch {
	case v < 1<<6:
		return 1
	case v < 1<<14:
		return 2
	case v <= MaxVarint:
		return 4
	}
	return 0
}

// AppendVarint appends v in its minimal encoding. It fails with ErrTooLarge
// if v exceeds MaxVarint.
func AppendVarint(b []byte, v uint64) ([]byte, error) {
	switch VarintLen(v) {
	case 1:
		return append(b, byte(v)), nil
	case 2:
		return binary.BigEndian.AppendUint16(b, uint16(v)|0x4000), nil
	case 4:
		return binary.BigEndian.AppendUint32(b, uint32(v)|0x8000_0000), nil
	}
	return b, ErrTooLarge
}

// Varint decodes a minimal variable-length integer from the front of b and
// returns it with the number of bytes read.
func Varint(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrShort
	}
	var v uint64
	var n int
	switch b[0] >> 6 {
	case 0:
		return uint64(b[0]), 1, nil
	case 1:
		n = 2
		if len(b) < n {
			return 0, 0, ErrShort
		}
		v = uint64(binary.BigEndian.Uint16(b) & 0x3fff)
	case 2:
		n = 4
		if len(b) < n {
			return 0, 0, ErrShort
		}
		v = uint64(binary.BigEndian.Uint32(b) & 0x3fff_ffff)
	default:
		// 0b11 would be QUIC's 8-byte form, which RFC 9420 reserves.
		return 0, 0, ErrVarint
	}
	if VarintLen(v) != n {
		// RFC 9420 §2.1.2: a value must use the shortest encoding.
		return 0, 0, ErrVarint
	}
	return v, n, nil
}

// Writer appends an encoding to a byte slice. The first error sticks (a
// vector too long to encode); Bytes reports it.
type Writer struct {
	b   []byte
	err error
}

// NewWriter returns a Writer that appends to buf.
func NewWriter(buf []byte) *Writer { return &Writer{b: buf} }

// Bytes returns the encoding and the first error met, if any.
func (w *Writer) Bytes() ([]byte, error) { return w.b, w.err }

// Len is the number of bytes written so far.
func (w *Writer) Len() int { return len(w.b) }

// Uint8 appends v.
func (w *Writer) Uint8(v uint8) { w.b = append(w.b, v) }

// Bool appends v as one byte, 0 or 1.
func (w *Writer) Bool(v bool) {
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
}

// Uint16 appends v big-endian.
func (w *Writer) Uint16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }

// Uint32 appends v big-endian.
func (w *Writer) Uint32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }

// Uint64 appends v big-endian.
func (w *Writer) Uint64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }

// Varint appends v as a minimal variable-length integer.
func (w *Writer) Varint(v uint64) {
	b, err := AppendVarint(w.b, v)
	w.b = b
	if err != nil && w.err == nil {
		w.err = err
	}
}

// Raw appends b as it is: a fixed-length field.
func (w *Writer) Raw(b []byte) { w.b = append(w.b, b...) }

// Opaque appends b as opaque<V>: its length, then its bytes.
func (w *Writer) Opaque(b []byte) {
	w.Varint(uint64(len(b)))
	w.b = append(w.b, b...)
}

// Vector appends a vector<V> whose body f writes: the body's length, then
// the body. The body is written in place and moved once if its length needs
// fewer than four bytes.
func (w *Writer) Vector(f func(w *Writer)) {
	start := len(w.b)
	w.b = append(w.b, 0, 0, 0, 0)
	f(w)
	n := uint64(len(w.b) - start - 4)
	hl := VarintLen(n)
	if hl == 0 {
		if w.err == nil {
			w.err = ErrTooLarge
		}
		w.b = w.b[:start]
		return
	}
	// The four reserved bytes have room for any header: encode it over
	// them, then close the gap.
	AppendVarint(w.b[start:start], n)
	if hl < 4 {
		copy(w.b[start+hl:], w.b[start+4:])
		w.b = w.b[:len(w.b)-(4-hl)]
	}
}

// Reader consumes a byte slice from the front. The first error sticks: every
// later read returns zero values and Err reports it.
type Reader struct {
	b   []byte
	err error
}

// NewReader returns a Reader over b. Slices returned by the Reader alias b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err is the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Len is the number of unread bytes.
func (r *Reader) Len() int { return len(r.b) }

// Empty reports whether nothing is left to read (or an error stopped the
// reader).
func (r *Reader) Empty() bool { return len(r.b) == 0 }

// Fail records err if no error is recorded yet and stops the reader, for
// parsers that find the input wrong in a way the reader cannot see.
func (r *Reader) Fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.b = nil
}

// Done fails with ErrTrailing if unread bytes remain, and returns Err.
func (r *Reader) Done() error {
	if r.err == nil && len(r.b) != 0 {
		r.Fail(ErrTrailing)
	}
	return r.err
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || len(r.b) < n {
		r.Fail(ErrShort)
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// Uint8 reads one byte.
func (r *Reader) Uint8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

// Bool reads one byte that must be 0 or 1.
func (r *Reader) Bool() bool {
	switch r.Uint8() {
	case 0:
		return false
	case 1:
		return true
	}
	r.Fail(ErrBool)
	return false
}

// Uint16 reads a big-endian uint16.
func (r *Reader) Uint16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

// Uint32 reads a big-endian uint32.
func (r *Reader) Uint32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

// Uint64 reads a big-endian uint64.
func (r *Reader) Uint64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

// Varint reads a minimal variable-length integer.
func (r *Reader) Varint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n, err := Varint(r.b)
	if err != nil {
		r.Fail(err)
		return 0
	}
	r.b = r.b[n:]
	return v
}

// Raw reads n bytes without copying: a fixed-length field.
func (r *Reader) Raw(n int) []byte { return r.take(n) }

// length reads a vector's length and checks it against max and against the
// bytes present before anything is sliced.
func (r *Reader) length(max int) int {
	n := r.Varint()
	if r.err != nil {
		return 0
	}
	if max < 0 || n > uint64(max) {
		r.Fail(ErrTooLarge)
		return 0
	}
	if n > uint64(len(r.b)) {
		r.Fail(ErrShort)
		return 0
	}
	return int(n)
}

// Opaque reads an opaque<V> of at most max bytes, without copying. On error
// it returns nil; an empty vector gives a non-nil empty slice.
func (r *Reader) Opaque(max int) []byte {
	n := r.length(max)
	if r.err != nil {
		return nil
	}
	return r.take(n)
}

// Vector reads a vector<V> whose body is at most max bytes and hands f a
// Reader over exactly the body. After f returns, unread body bytes or an
// error in the body fail r.
func (r *Reader) Vector(max int, f func(body *Reader)) {
	n := r.length(max)
	body := r.take(n)
	if r.err != nil {
		return
	}
	sub := Reader{b: body}
	f(&sub)
	if err := sub.Done(); err != nil {
		r.Fail(err)
	}
}

// Elements reads a vector<V> of at most max bytes whose body is a sequence
// of elements, calling f once per element until the body is used up. An
// element that consumes nothing fails the read, so f cannot loop forever.
func (r *Reader) Elements(max int, f func(elem *Reader)) {
	r.Vector(max, func(body *Reader) {
		for body.err == nil && len(body.b) > 0 {
			before := len(body.b)
			f(body)
			if body.err == nil && len(body.b) == before {
				body.Fail(ErrNoProgress)
			}
		}
	})
}
