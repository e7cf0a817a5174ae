package mflow_test

import (
	"math"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mflow"
)

// TestForgedStability checks that stability claims for more multicasts
// than this member sent neither open its window past Window nor corrupt
// its count of bytes in flight.
func TestForgedStability(t *testing.T) {
	for _, c := range []struct {
		name  string
		claim uint64
	}{
		{"huge", math.MaxUint64},
		{"just beyond sent", 11},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 2, nil, compose.Options{Mflow: mflow.Config{Window: 16}})
			for range 10 {
				m.Cast([]byte("x"))
			}
			m.Feed(lt.Datagram(1, layers.ECastUnrel, []byte{1}, lt.Uv(2, c.claim, 0)))
			for range 40 {
				m.Cast([]byte("y"))
			}
			// Member 1 has acknowledged at most 10 of 50: the window
			// lets 16 beyond what is truly stable go out.
			if b := m.S.Backlog(); b < 50-16-10 {
				t.Fatalf("backlog %d: the window opened past its size", b)
			}
		})
	}
}
