package encrypt

import (
	"bytes"
	"math"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
)

// wireHeader parses a header with internal/wire's strict Reader, as the
// layer's hand-written parser must: n is 0 where the Reader refuses it.
func wireHeader(b []byte) (flag byte, gen, counter uint32, n int) {
	r := wire.NewReader(b)
	flag = r.Byte()
	g := r.UvarintMax(math.MaxUint32)
	c := r.UvarintMax(keying.DatagramsPerBlock - 1)
	if r.Err() != nil || flag > destThis {
		return 0, 0, 0, 0
	}
	return flag, uint32(g), uint32(c), len(b) - r.Len()
}

// Every header appendHeader writes reads back, by parseHeader and by
// internal/wire, as the numbers it was written from, at every length of
// either number.
func TestHeaderRoundTrip(t *testing.T) {
	gens := []uint32{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, 0x1fffff, 0x200000, 0xfffffff, 0x10000000, math.MaxUint32}
	counters := []uint32{0, 1, 0x7f, 0x80, 0x3fff, 0x4000, keying.DatagramsPerBlock - 1}
	tail := bytes.Repeat([]byte{0xff}, MaxHeader)
	for _, flag := range []byte{destAll, destThis} {
		for _, g := range gens {
			for _, c := range counters {
				h := appendHeader(nil, flag, g, c)
				if len(h) > MaxHeader {
					t.Fatalf("(%d, %d): header of %d bytes", g, c, len(h))
				}
				b := append(h, tail...)
				f, gg, cc, n := parseHeader(b)
				if f != flag || gg != g || cc != c || n != len(h) {
					t.Fatalf("(%d, %d, %d) read as (%d, %d, %d), length %d of %d", flag, g, c, f, gg, cc, n, len(h))
				}
				if f2, g2, c2, n2 := wireHeader(b); f2 != f || g2 != gg || c2 != cc || n2 != n {
					t.Fatalf("(%d, %d, %d): internal/wire reads (%d, %d, %d) of length %d", flag, g, c, f2, g2, c2, n2)
				}
			}
		}
	}
}

// Headers out of bounds, not minimal or cut short are refused, as
// internal/wire refuses them.
func TestHeaderRefused(t *testing.T) {
	pad := bytes.Repeat([]byte{0}, MaxHeader)
	for name, h := range map[string][]byte{
		"destination 2":                 {2, 0, 0},
		"generation not minimal":        {0, 0x80, 0x00, 0},
		"counter not minimal":           {0, 0, 0x80, 0x00},
		"counter not minimal, 3 bytes":  {0, 0, 0x80, 0x80, 0x00},
		"counter 2^16":                  {0, 0, 0x80, 0x80, 0x04},
		"counter of 4 bytes":            {0, 0, 0x80, 0x80, 0x80, 0x01},
		"generation 2^32":               {0, 0x80, 0x80, 0x80, 0x80, 0x10, 0},
		"generation of 6 bytes":         {0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 0},
		"generation never ends":         {0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"counter never ends":            {0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"counter 2^16 after generation": {0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x80, 0x80, 0x04},
	} {
		b := append(h, pad...)
		if _, _, _, n := parseHeader(b); n != 0 {
			t.Errorf("%s: read, length %d", name, n)
		}
		if _, _, _, n := wireHeader(b); n != 0 {
			t.Errorf("%s: internal/wire reads it, length %d", name, n)
		}
	}
	// Shorter than MaxHeader: nothing is read, not even a valid header.
	for n := range MaxHeader {
		if _, _, _, got := parseHeader(make([]byte, n)); got != 0 {
			t.Errorf("%d bytes read as a header", n)
		}
	}
}

// FuzzHeader checks parseHeader against internal/wire's Reader on any
// bytes of at least MaxHeader: the same header, or the same refusal.
func FuzzHeader(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 2, 3, 4, 5, 6})
	f.Add([]byte{1, 0x80, 0x01, 0xff, 0xff, 0x03, 0, 0, 0})
	f.Add([]byte{0, 0xff, 0xff, 0xff, 0xff, 0x0f, 0xff, 0xff, 0x03})
	f.Add([]byte{0, 0x80, 0x00, 0x80, 0x00, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < MaxHeader {
			return
		}
		f1, g1, c1, n1 := parseHeader(b)
		f2, g2, c2, n2 := wireHeader(b)
		if f1 != f2 || g1 != g2 || c1 != c2 || n1 != n2 {
			t.Fatalf("% x: parseHeader (%d, %d, %d, %d), internal/wire (%d, %d, %d, %d)", b, f1, g1, c1, n1, f2, g2, c2, n2)
		}
		if n1 > 0 && !bytes.Equal(appendHeader(nil, f1, g1, c1), b[:n1]) {
			t.Fatalf("% x: (%d, %d, %d) written back as % x", b, f1, g1, c1, appendHeader(nil, f1, g1, c1))
		}
	})
}
