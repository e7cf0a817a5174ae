package secure

import (
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/private"
)

var _ private.Keys = (*EpochKeys)(nil)

// An epoch's keys establish a private pair key between two members: a
// Send from rank 0 reaches rank 1 sealed under the key the HPKE to rank
// 1's leaf key carried, and is delivered.
func TestEpochKeysSealPrivateSends(t *testing.T) {
	ps, states := twoMemberEpoch(t)
	stacks := make([]*layers.Stack, 2)
	for i, p := range ps {
		k, err := p.epochKeys(states[i])
		if err != nil {
			t.Fatal(err)
		}
		cfg := layers.Config{View: layers.View{Group: 1, ID: 1, Rank: k.Rank, N: 2}, Keys: k}
		if stacks[k.Rank], err = compose.Build(cfg, []string{"bottom", "pt2pt", "private"}, compose.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	stacks[0].Send(1, []byte("for one only"))
	for _, pk := range stacks[0].Ready().Packets {
		stacks[1].Receive(append([]byte(nil), pk.Data...))
	}
	d := stacks[1].Ready().Deliveries
	if len(d) != 1 || string(d[0].Data) != "for one only" || d[0].From != 0 {
		t.Fatalf("delivered %v", d)
	}
	if n := stacks[1].Counter("private", "keys_accepted"); n != 1 {
		t.Errorf("keys accepted %d, want 1", n)
	}
	for _, s := range stacks {
		s.EndView()
	}
}
