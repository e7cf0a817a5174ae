package compose_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// group wires stacks together with a perfect, instantaneous network.
type group struct {
	stacks []*layers.Stack
	got    [][]layers.Delivery
	now    time.Duration
	lose   func(from, to int) bool
	tap    func(from, to int, data []byte)
}

func newGroup(t testing.TB, n int) *group { return newGroupOf(t, n, compose.Reliable) }

// newGroupOf is newGroup with the named layers.
func newGroupOf(t testing.TB, n int, names []string) *group {
	g := &group{got: make([][]layers.Delivery, n)}
	for r := range n {
		s, err := compose.Build(layers.Config{View: layers.View{Group: 7, ID: 3, N: n, Rank: r}, Seed: 1}, names, compose.Options{})
		if err != nil {
			t.Fatal(err)
		}
		g.stacks = append(g.stacks, s)
	}
	return g
}

// run moves packets until the network is quiet, ticking the clock each round.
func (g *group) run(rounds int) {
	for range rounds {
		g.now += time.Millisecond
		moved := false
		for from, s := range g.stacks {
			s.Flush()
			s.Tick(g.now)
			s.Flush()
			rd := s.Ready()
			for _, d := range rd.Deliveries {
				d.Data = bytes.Clone(d.Data)
				g.got[from] = append(g.got[from], d)
			}
			for _, p := range rd.Packets {
				for to, dst := range g.stacks {
					if to == from || (p.To != layers.AllPeers && p.To != to) {
						continue
					}
					if g.lose != nil && g.lose(from, to) {
						continue
					}
					moved = true
					if g.tap != nil {
						g.tap(from, to, p.Data)
					}
					dst.Receive(bytes.Clone(p.Data))
				}
			}
			s.Advance()
		}
		_ = moved
	}
}

func TestCastDeliveredEverywhereInOrder(t *testing.T) {
	g := newGroup(t, 3)
	const n = 5000
	for i := range n {
		g.stacks[i%3].Cast([]byte(fmt.Sprintf("m%d-%d", i%3, i/3)))
		if i%100 == 0 {
			g.run(1)
		}
	}
	g.run(50)
	for r := range 3 {
		next := make([]int, 3)
		for _, d := range g.got[r] {
			want := fmt.Sprintf("m%d-%d", d.From, next[d.From])
			if string(d.Data) != want {
				t.Fatalf("member %d got %q, want %q", r, d.Data, want)
			}
			next[d.From]++
		}
		if len(g.got[r]) != n {
			t.Fatalf("member %d delivered %d, want %d", r, len(g.got[r]), n)
		}
	}
}

func TestLossRecoveredAndLargeMessages(t *testing.T) {
	g := newGroup(t, 3)
	rng := rand.New(rand.NewPCG(1, 2))
	g.lose = func(from, to int) bool { return rng.IntN(5) == 0 }
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	g.stacks[0].Cast(big)
	g.stacks[1].Send(2, big)
	for i := range 300 {
		g.stacks[i%3].Cast([]byte{byte(i)})
	}
	g.run(400)
	for r := range 3 {
		var casts, sends int
		for _, d := range g.got[r] {
			if d.Type == layers.ESend {
				sends++
				if !bytes.Equal(d.Data, big) || d.From != 1 {
					t.Fatalf("member %d: wrong send", r)
				}
				continue
			}
			casts++
		}
		if casts != 301 {
			t.Errorf("member %d delivered %d casts, want 301", r, casts)
		}
		if want := map[bool]int{true: 1, false: 0}[r == 2]; sends != want {
			t.Errorf("member %d delivered %d sends, want %d", r, sends, want)
		}
	}
	for r, s := range g.stacks {
		t.Logf("member %d counters: %v", r, s.Counters())
	}
}
