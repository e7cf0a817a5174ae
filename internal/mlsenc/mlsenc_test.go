package mlsenc

import (
	"bytes"
	"errors"
	"testing"
)

func TestVarintEncoding(t *testing.T) {
	cases := []struct {
		v   uint64
		enc []byte
	}{
		{0, []byte{0x00}},
		{63, []byte{0x3f}},
		{64, []byte{0x40, 0x40}},
		{16383, []byte{0x7f, 0xff}},
		{16384, []byte{0x80, 0x00, 0x40, 0x00}},
		{MaxVarint, []byte{0xbf, 0xff, 0xff, 0xff}},
	}
	for _, c := range cases {
		got, err := AppendVarint(nil, c.v)
		if err != nil || !bytes.Equal(got, c.enc) {
			t.Errorf("AppendVarint(%d) = %x, %v; want %x", c.v, got, err, c.enc)
		}
		v, n, err := Varint(c.enc)
		if err != nil || v != c.v || n != len(c.enc) {
			t.Errorf("Varint(%x) = %d, %d, %v", c.enc, v, n, err)
		}
	}
	if _, err := AppendVarint(nil, MaxVarint+1); !errors.Is(err, ErrTooLarge) {
		t.Errorf("AppendVarint(2^30) err = %v", err)
	}
}

func TestVarintRefusesNonMinimalAndReserved(t *testing.T) {
	for _, enc := range [][]byte{
		{0x40, 0x00},             // 0 in two bytes
		{0x40, 0x3f},             // 63 in two bytes
		{0x80, 0x00, 0x3f, 0xff}, // 16383 in four bytes
		{0xc0, 0, 0, 0, 0, 0, 0, 1},
	} {
		if _, _, err := Varint(enc); !errors.Is(err, ErrVarint) {
			t.Errorf("Varint(%x) err = %v, want ErrVarint", enc, err)
		}
	}
	for _, enc := range [][]byte{{}, {0x40}, {0x80, 0, 0}} {
		if _, _, err := Varint(enc); !errors.Is(err, ErrShort) {
			t.Errorf("Varint(%x) err = %v, want ErrShort", enc, err)
		}
	}
}

func TestVectorHeaderSizes(t *testing.T) {
	for _, n := range []int{0, 1, 63, 64, 300, 16383, 16384, 70000} {
		w := NewWriter(nil)
		w.Uint8(7)
		w.Vector(func(w *Writer) { w.Raw(make([]byte, n)) })
		w.Uint8(9)
		b, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != 2+VarintLen(uint64(n))+n {
			t.Fatalf("n=%d: encoded %d bytes", n, len(b))
		}
		r := NewReader(b)
		if r.Uint8() != 7 || len(r.Opaque(n)) != n || r.Uint8() != 9 || r.Done() != nil {
			t.Fatalf("n=%d: round trip failed: %v", n, r.Err())
		}
	}
}

func TestReaderStrict(t *testing.T) {
	// A length beyond the caller's bound is refused before slicing.
	r := NewReader([]byte{0x05, 1, 2, 3, 4, 5})
	if r.Opaque(4) != nil || !errors.Is(r.Err(), ErrTooLarge) {
		t.Errorf("over-bound opaque: err = %v", r.Err())
	}
	// A length beyond the input is refused.
	r = NewReader([]byte{0x05, 1, 2})
	if r.Opaque(100) != nil || !errors.Is(r.Err(), ErrShort) {
		t.Errorf("truncated opaque: err = %v", r.Err())
	}
	// Trailing bytes.
	r = NewReader([]byte{0x01, 1, 2})
	r.Opaque(10)
	if !errors.Is(r.Done(), ErrTrailing) {
		t.Errorf("trailing: err = %v", r.Err())
	}
	// Bool other than 0 or 1.
	r = NewReader([]byte{2})
	r.Bool()
	if !errors.Is(r.Err(), ErrBool) {
		t.Errorf("bool: err = %v", r.Err())
	}
	// Leftover bytes inside a vector body fail the outer reader.
	r = NewReader([]byte{0x02, 1, 2})
	r.Vector(10, func(body *Reader) { body.Uint8() })
	if !errors.Is(r.Err(), ErrTrailing) {
		t.Errorf("vector body leftovers: err = %v", r.Err())
	}
	// An element reader that consumes nothing cannot loop forever.
	r = NewReader([]byte{0x02, 1, 2})
	r.Elements(10, func(*Reader) {})
	if !errors.Is(r.Err(), ErrNoProgress) {
		t.Errorf("no progress: err = %v", r.Err())
	}
	// Errors stick.
	r = NewReader([]byte{0x40})
	r.Varint()
	if r.Uint8() != 0 || !errors.Is(r.Err(), ErrShort) {
		t.Errorf("sticky: err = %v", r.Err())
	}
}

func TestElements(t *testing.T) {
	w := NewWriter(nil)
	w.Vector(func(w *Writer) {
		for i := range 3 {
			w.Uint16(uint16(i))
			w.Opaque([]byte{byte(i)})
		}
	})
	b, _ := w.Bytes()
	r := NewReader(b)
	var got []uint16
	r.Elements(100, func(e *Reader) {
		got = append(got, e.Uint16())
		e.Opaque(1)
	})
	if err := r.Done(); err != nil || len(got) != 3 || got[2] != 2 {
		t.Fatalf("elements = %v, %v", got, err)
	}
}

// FuzzRoundTrip decodes a structure of every kind of field; whatever decodes
// must re-encode to exactly the input (one encoding per value).
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4, 0x41, 0x00, 0x01, 0xaa, 0x02, 0x00, 0x07})
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		r := NewReader(in)
		u8 := r.Uint8()
		u16 := r.Uint16()
		u32 := r.Uint32()
		u64 := r.Uint64()
		v := r.Varint()
		op := r.Opaque(1 << 20)
		type elem struct {
			b bool
			x uint8
		}
		var elems []elem
		r.Elements(1<<20, func(e *Reader) {
			var el elem
			el.b = e.Bool()
			el.x = e.Uint8()
			elems = append(elems, el)
		})
		if r.Done() != nil {
			return
		}
		w := NewWriter(nil)
		w.Uint8(u8)
		w.Uint16(u16)
		w.Uint32(u32)
		w.Uint64(u64)
		w.Varint(v)
		w.Opaque(op)
		w.Vector(func(w *Writer) {
			for _, el := range elems {
				w.Bool(el.b)
				w.Uint8(el.x)
			}
		})
		out, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("round trip changed the encoding:\n in %x\nout %x", in, out)
		}
	})
}

// TestNestedVectors: a vector inside a vector gets minimal headers at both
// levels, whatever the inner body's length.
func TestNestedVectors(t *testing.T) {
	for _, n := range []int{0, 10, 63, 64, 20000} {
		w := NewWriter(nil)
		w.Vector(func(w *Writer) {
			w.Uint8(1)
			w.Vector(func(w *Writer) { w.Raw(make([]byte, n)) })
			w.Uint8(2)
		})
		b, err := w.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		inner := VarintLen(uint64(n)) + n
		if len(b) != VarintLen(uint64(inner+2))+inner+2 {
			t.Fatalf("n=%d: %d bytes", n, len(b))
		}
		r := NewReader(b)
		var got []byte
		r.Vector(1<<20, func(body *Reader) {
			if body.Uint8() != 1 {
				body.Fail(ErrVarint)
			}
			got = body.Opaque(1 << 20)
			if body.Uint8() != 2 {
				body.Fail(ErrVarint)
			}
		})
		if err := r.Done(); err != nil || len(got) != n {
			t.Fatalf("n=%d: %v, %d bytes", n, err, len(got))
		}
	}
}
