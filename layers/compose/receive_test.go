package compose_test

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
)

// TestReceiveAccepted checks what Receive reports: a datagram that parsed is
// accepted, a replay of it too (a duplicate is harmless), and junk or a
// datagram that a layer refuses is not.
func TestReceiveAccepted(t *testing.T) {
	g := newGroup(t, 2)
	var cast []byte
	g.tap = func(from, to int, data []byte) {
		if from == 0 && cast == nil {
			cast = bytes.Clone(data)
		}
	}
	g.stacks[0].Cast([]byte("hello"))
	g.run(1)
	if cast == nil {
		t.Fatal("no datagram from member 0")
	}
	r := g.stacks[1]
	if !r.Receive(bytes.Clone(cast)) {
		t.Error("a replayed datagram was not accepted")
	}
	for _, c := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"junk", []byte("not a datagram at all")},
		{"truncated", cast[:len(cast)-len("hello")-1]},
		{"other group", append([]byte{cast[0], cast[1] ^ 1}, cast[2:]...)},
	} {
		before := r.Drops()
		if r.Receive(bytes.Clone(c.data)) {
			t.Errorf("%s: accepted", c.name)
		}
		if r.Drops() == before {
			t.Errorf("%s: no drop counted", c.name)
		}
	}
}

// TestFootprintWithinBound checks the accounting the stack offers: after
// honest traffic the footprint is within the stated bound.
func TestFootprintWithinBound(t *testing.T) {
	g := newGroup(t, 3)
	for i := range 3000 {
		g.stacks[i%3].Cast(bytes.Repeat([]byte{byte(i)}, 100))
		if i%64 == 0 {
			g.run(1)
		}
	}
	g.run(20)
	for r, s := range g.stacks {
		if f, b := s.Footprint(), s.FootprintBound(); f > b {
			t.Errorf("member %d: footprint %d above its bound %d", r, f, b)
		}
	}
}

// TestBuildWindows checks that Build refuses a flow control window that
// honest multicasts would overrun the receivers' window with.
func TestBuildWindows(t *testing.T) {
	cfg := layers.Config{View: layers.View{N: 2}}
	for _, c := range []struct {
		name string
		opts compose.Options
		ok   bool
	}{
		{"defaults", compose.Options{}, true},
		{"flow window equal to the receive window", compose.Options{Mflow: mflow.Config{Window: mnak.DefaultMaxHeld}}, false},
		{"larger receive window", compose.Options{Mflow: mflow.Config{Window: 1 << 14}, Mnak: mnak.Config{MaxHeld: 1 << 15}}, true},
		{"small receive window", compose.Options{Mnak: mnak.Config{MaxHeld: 64}}, false},
	} {
		if _, err := compose.Build(cfg, compose.Reliable, c.opts); (err == nil) != c.ok {
			t.Errorf("%s: err = %v", c.name, err)
		}
	}
}
