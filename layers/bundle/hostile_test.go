package bundle_test

import (
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bundle"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
)

// packed is a bundle from member 1 of frames of three bytes (an unreliable
// multicast of one byte, the stability layer's pass marker), as many as
// fit total bytes.
func packed(total int) []byte {
	d := lt.Datagram(1, layers.EBundle)
	for len(d)+3 <= total {
		d = append(d, byte(layers.ECastUnrel), 1, 0)
	}
	return d
}

// TestBundleLimit checks that a bundle packed to MaxDatagram with the
// smallest frames is taken whole, and that one byte more is dropped at the
// bottom before anything is parsed.
func TestBundleLimit(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	d := packed(layers.DefaultMaxDatagram)
	frames := (len(d) - len(lt.Datagram(1, layers.EBundle))) / 3
	if frames > bundle.MaxFrames(layers.DefaultMaxDatagram) {
		t.Fatalf("%d frames above the stated bound %d", frames, bundle.MaxFrames(layers.DefaultMaxDatagram))
	}
	if !m.Feed(d) {
		t.Fatalf("bundle of %d frames refused", frames)
	}
	over := append(packed(layers.DefaultMaxDatagram+3), make([]byte, layers.DefaultMaxDatagram+1)...)[:layers.DefaultMaxDatagram+1]
	if m.Feed(over) || m.Drops("bottom", "too_large") != 1 {
		t.Fatal("datagram over MaxDatagram not dropped at the bottom")
	}
}
