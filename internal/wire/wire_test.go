package wire

import (
	"bytes"
	"errors"
	"testing"
)

func TestUvarintStrict(t *testing.T) {
	for _, tc := range []struct {
		in   []byte
		want uint64
		err  error
	}{
		{[]byte{0}, 0, nil},
		{[]byte{0x7f}, 127, nil},
		{[]byte{0x80, 0x01}, 128, nil},
		{[]byte{0x80, 0x00}, 0, ErrVarint}, // non-minimal zero
		{[]byte{0x81, 0x80, 0x00}, 0, ErrVarint},
		{[]byte{0x80}, 0, ErrShort},
		{nil, 0, ErrShort},
		{bytes.Repeat([]byte{0xff}, 11), 0, ErrVarint}, // overflow
	} {
		v, _, err := Uvarint(tc.in)
		if !errors.Is(err, tc.err) || (err == nil && v != tc.want) {
			t.Errorf("Uvarint(%x) = %d, %v; want %d, %v", tc.in, v, err, tc.want, tc.err)
		}
	}
}

func TestReaderSticksAtFirstError(t *testing.T) {
	r := NewReader([]byte{5, 0x80})
	if r.Byte() != 5 {
		t.Fatal("first byte")
	}
	_ = r.Uvarint()
	_ = r.Byte()
	if !errors.Is(r.Err(), ErrShort) {
		t.Fatalf("err = %v, want ErrShort", r.Err())
	}
	r = NewReader([]byte{1, 2})
	r.Byte()
	if !errors.Is(r.Done(), ErrTrailing) {
		t.Fatal("trailing byte not reported")
	}
	r = NewReader([]byte{200, 1})
	if r.UvarintMax(100); !errors.Is(r.Err(), ErrTooLarge) {
		t.Fatal("bound not enforced")
	}
}

// FuzzUvarint checks that every accepted varint has exactly one encoding.
func FuzzUvarint(f *testing.F) {
	for _, s := range [][]byte{{0}, {1}, {0x80, 1}, {0xff, 0xff, 0x03}, {0x80, 0}} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		v, n, err := Uvarint(b)
		if err != nil {
			return
		}
		if enc := AppendUvarint(nil, v); !bytes.Equal(enc, b[:n]) || UvarintLen(v) != n {
			t.Fatalf("%x decodes to %d, which encodes as %x", b[:n], v, enc)
		}
	})
}
