package bottom

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

func header(group, view, sender uint64, t layers.Type) []byte {
	b := append([]byte{Version}, wire.AppendUint64(nil, group)...)
	b = wire.AppendUvarint(b, view)
	b = wire.AppendUvarint(b, sender)
	return append(b, byte(t))
}

func TestParse(t *testing.T) {
	good := append(header(7, 3, 2, layers.ECast), 'x')
	h, err := Parse(good)
	if err != nil || h.Group != 7 || h.View != 3 || h.Sender != 2 || h.Type != layers.ECast || h.Len != len(good)-1 {
		t.Fatalf("Parse = %+v, %v", h, err)
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{2}, good[1:]...),
		"truncated":    good[:5],
		"no payload":   header(7, 3, 2, layers.ECast),
		"unknown type": append(header(7, 3, 2, layers.EFlush), 'x'),
		"zero type":    append(header(7, 3, 2, 0), 'x'),
		"non-minimal":  append(append(append([]byte{Version}, wire.AppendUint64(nil, 7)...), 0x83, 0x00, 2, byte(layers.ECast)), 'x'),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}

// FuzzParse checks that Parse never panics and that an accepted header
// re-encodes to exactly the bytes it was read from.
func FuzzParse(f *testing.F) {
	f.Add(append(header(1, 0, 0, layers.ECast), 0))
	f.Add(append(header(^uint64(0), 1<<40, 63, layers.EBundle), 1, 2, 3))
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		if enc := header(h.Group, h.View, h.Sender, h.Type); !bytes.Equal(enc, b[:h.Len]) {
			t.Fatalf("header %x re-encodes as %x", b[:h.Len], enc)
		}
	})
}
