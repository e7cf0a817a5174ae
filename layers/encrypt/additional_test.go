package encrypt

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// unpadded is the additional data of the package doc before its padding:
// the mode, the bottom header of the benchmark's group and view, the
// destination.
func unpadded(mode byte, sender int, t layers.Type, dest int) []byte {
	a := []byte{mode, bottom.Version}
	a = wire.AppendUint64(a, testGroup)
	a = wire.AppendUvarint(a, testView)
	a = wire.AppendUvarint(a, uint64(sender))
	a = append(a, byte(t))
	return wire.AppendUvarint(a, uint64(dest+1))
}

// The additional data is the mode, the bottom header and the destination,
// then zeros up to a whole number of 16-byte blocks, whatever the numbers'
// lengths and whatever the buffer held before (integrity-only mode appends
// the payload to it); distinct fields never give the same bytes.
func TestAdditionalDataPadded(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		mode byte
	}{{Config{}, modePrivate}, {Config{IntegrityOnly: true}, modeIntegrity}} {
		m := newMember(t, 0, 2, newKeys(t, 1), c.cfg)
		l := m.s.Layer("encrypt").(*Layer)
		seen := map[string]bool{}
		for _, sender := range []int{0, 1, 126, 127, 128, 300, 1 << 20} {
			for _, typ := range []layers.Type{layers.ECast, layers.ESend, layers.EBundle} {
				for _, dest := range []int{layers.AllPeers, 0, 125, 126, 127, 1 << 20} {
					a := l.additional(sender, typ, dest)
					want := unpadded(c.mode, sender, typ, dest)
					if len(a)%aadBlock != 0 || len(a) < len(want) || len(a)-len(want) >= aadBlock {
						t.Fatalf("(%d, %v, %d): %d bytes for %d", sender, typ, dest, len(a), len(want))
					}
					if !bytes.Equal(a[:len(want)], want) || !bytes.Equal(a[len(want):], make([]byte, len(a)-len(want))) {
						t.Fatalf("(%d, %v, %d): % x, want % x and zeros", sender, typ, dest, a, want)
					}
					if seen[string(a)] {
						t.Fatalf("(%d, %v, %d): % x built twice", sender, typ, dest, a)
					}
					seen[string(a)] = true
					// What the layer's callers append after it, dirtying
					// the buffer for the next call.
					_ = append(a, bytes.Repeat([]byte{0xff}, 64)...)
				}
			}
		}
	}
}

// Building the additional data allocates nothing.
func TestAdditionalDataAllocatesNothing(t *testing.T) {
	l := newMember(t, 0, 2, newKeys(t, 1), Config{}).s.Layer("encrypt").(*Layer)
	if n := testing.AllocsPerRun(100, func() { l.additional(1, layers.ECast, layers.AllPeers) }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

// AdditionalData, from a bottom header as on the wire, gives the bytes the
// layer builds.
func TestAdditionalDataExported(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		mode byte
	}{{Config{}, modePrivate}, {Config{IntegrityOnly: true}, modeIntegrity}} {
		l := newMember(t, 0, 2, newKeys(t, 1), c.cfg).s.Layer("encrypt").(*Layer)
		for _, sender := range []int{0, 1, 127, 128, 1 << 20} {
			for _, dest := range []int{layers.AllPeers, 0, 126, 127, 1 << 20} {
				u := unpadded(c.mode, sender, layers.ECast, dest)
				n := len(u) - len(wire.AppendUvarint(nil, uint64(dest+1)))
				got := AdditionalData(c.cfg.IntegrityOnly, u[1:n], dest)
				if want := l.additional(sender, layers.ECast, dest); !bytes.Equal(got, want) {
					t.Fatalf("(%d, %d): % x, the layer % x", sender, dest, got, want)
				}
			}
		}
	}
}
