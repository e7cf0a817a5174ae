package bundle

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

func frames(fs ...[]byte) []byte {
	var b []byte
	for i, f := range fs {
		b = append(b, byte(layers.ECast+layers.Type(i%4)))
		b = wire.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	return b
}

func TestSplit(t *testing.T) {
	b := frames([]byte("one"), []byte("two"), []byte("three"))
	evs, err := Split(b, 4, nil)
	if err != nil || len(evs) != 3 {
		t.Fatalf("Split = %d events, %v", len(evs), err)
	}
	for i, want := range []string{"one", "two", "three"} {
		if string(evs[i].Msg.Body) != want || evs[i].Peer != 4 || evs[i].Type != layers.ECast+layers.Type(i%4) {
			t.Errorf("frame %d = %+v", i, evs[i])
		}
	}
	for name, bad := range map[string][]byte{
		"single frame":  frames([]byte("x")),
		"empty frame":   frames([]byte("x"), nil),
		"truncated":     b[:len(b)-1],
		"trailing byte": append(bytes.Clone(b), byte(layers.ECast)),
		"bundle inside": append(frames([]byte("x")), byte(layers.EBundle), 1, 'y'),
		"flush type":    append(frames([]byte("x")), byte(layers.EFlush), 1, 'y'),
	} {
		if evs, err := Split(bad, 0, nil); err == nil {
			t.Errorf("%s: accepted as %d frames", name, len(evs))
		}
	}
}

// FuzzSplit checks that Split never panics and that an accepted bundle is
// exactly the concatenation of its frames.
func FuzzSplit(f *testing.F) {
	f.Add(frames([]byte("a"), []byte("bc")))
	f.Add(frames(make([]byte, 200), []byte("x"), []byte("y")))
	f.Add([]byte{1, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		evs, err := Split(b, 0, nil)
		if err != nil {
			return
		}
		var enc []byte
		for _, ev := range evs {
			enc = append(enc, byte(ev.Type))
			enc = wire.AppendUvarint(enc, uint64(len(ev.Msg.Body)))
			enc = append(enc, ev.Msg.Body...)
		}
		if !bytes.Equal(enc, b) {
			t.Fatalf("bundle %x re-encodes as %x", b, enc)
		}
	})
}
