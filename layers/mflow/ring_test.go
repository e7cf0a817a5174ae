package mflow

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
)

// sink is a bottom layer that records the sizes of the multicasts flow
// control lets out, and through whose port a test feeds stability up.
type sink struct {
	p     *layers.Port
	sizes []int
}

func (s *sink) Name() string           { return "sink" }
func (s *sink) Init(p *layers.Port)    { s.p = p }
func (s *sink) Up(ev *layers.Event)    { s.p.Up(ev) }
func (s *sink) Tick(now time.Duration) {}
func (s *sink) Down(ev *layers.Event) {
	if ev.Type == layers.ECast {
		s.sizes = append(s.sizes, ev.Msg.Len())
	}
}

// stable reports that the first k multicasts of rank 0 are everywhere.
func (s *sink) stable(k uint64) {
	ev := s.p.NewEvent(layers.EStable, layers.AllPeers)
	ev.Stability = &layers.Stability{Stable: []uint64{k, 0}, MaxSeen: []uint64{k, 0}}
	s.p.Up(ev)
	s.p.FreeEvent(ev)
}

// model is flow control as its documentation states it: at most window
// multicasts and windowBytes bytes not yet stable (a single message over
// the byte window goes alone), the rest waiting in order.
type model struct {
	window, windowBytes uint64
	sizes               []uint64 // of every multicast cast, in order
	sent, stable        uint64
}

func (m *model) run() {
	bytes := uint64(0)
	for _, n := range m.sizes[m.stable:m.sent] {
		bytes += n
	}
	for m.sent < uint64(len(m.sizes)) {
		inFlight := m.sent - m.stable
		if inFlight > 0 && (inFlight >= m.window || bytes+m.sizes[m.sent] > m.windowBytes) {
			return
		}
		bytes += m.sizes[m.sent]
		m.sent++
	}
}

// TestGrowingRing: the ring of the sizes in flight starts small and
// doubles as the window fills; each growth must move every message in
// flight to its place in the longer ring, or the bytes in flight go wrong
// and the window lets out more or fewer messages than it should. Each run
// first sends and stabilises offset messages one at a time, so that the
// ring's growths find the messages in flight wrapped around it at every
// place; then casts go far past the ring's first length and its longest,
// stability comes back in steps of every size, and the byte window binds
// about as often as the count window does. After every step the layer
// must have let out exactly what the model does.
func TestGrowingRing(t *testing.T) {
	for _, window := range []uint64{1, 2, 63, 64, 65, 200, 256, 300} {
		for _, offset := range []uint64{0, 1, 37, 100} {
			t.Run(fmt.Sprintf("window %d offset %d", window, offset), func(t *testing.T) {
				growingRing(t, window, offset)
			})
		}
	}
}

func growingRing(t *testing.T, window, offset uint64) {
	rng := rand.New(rand.NewPCG(window, offset))
	const avg = 50
	bytes := window * avg
	bottom, fc := &sink{}, New(Config{Window: window, WindowBytes: bytes})
	s, err := layers.New(layers.Config{View: layers.View{Rank: 0, N: 2}}, bottom, fc)
	if err != nil {
		t.Fatal(err)
	}
	m := &model{window: window, windowBytes: bytes}
	check := func(step string) {
		t.Helper()
		if uint64(len(bottom.sizes)) != m.sent {
			t.Fatalf("%s: %d multicasts let out, want %d (stable %d)", step, len(bottom.sizes), m.sent, m.stable)
		}
		if b := uint64(fc.Backlog()); b != uint64(len(m.sizes))-m.sent {
			t.Fatalf("%s: backlog %d, want %d", step, b, uint64(len(m.sizes))-m.sent)
		}
	}
	cast := func(n int) {
		m.sizes = append(m.sizes, uint64(n))
		s.Cast(make([]byte, n))
	}
	stable := func(k uint64) {
		m.stable = k
		bottom.stable(k)
		m.run()
	}
	for range offset {
		cast(1)
		m.run()
		stable(m.sent)
	}
	check("warm-up")
	for round := range 150 {
		for range rng.IntN(int(2 * window)) {
			cast(1 + rng.IntN(2*avg))
		}
		m.run()
		check("cast")
		// Stability in steps of every size: none, one, a few, the whole
		// window (which empties the ring at once).
		k := m.stable
		switch rng.IntN(4) {
		case 1:
			k = min(m.stable+1, m.sent)
		case 2:
			k = m.stable + uint64(rng.IntN(int(m.sent-m.stable)+1))
		case 3:
			k = m.sent
		}
		if round%50 == 49 {
			k = m.sent
		}
		stable(k)
		check("stability")
	}
	if window > initialRing && len(fc.sizes) <= initialRing {
		t.Fatalf("the ring never grew")
	}
	if uint64(len(fc.sizes)) > 2*window {
		t.Fatalf("ring of %d entries for a window of %d", len(fc.sizes), window)
	}
}
