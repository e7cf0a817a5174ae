package secure

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/encrypt"
)

var _ encrypt.Keys = (*EpochKeys)(nil)

// Two members' stacks seal and open each other's datagrams under the keys
// of the epoch they share, which a member outside it does not hold.
func TestEpochKeysSealTraffic(t *testing.T) {
	ps, states := twoMemberEpoch(t)
	stacks := make([]*layers.Stack, 2)
	for i, p := range ps {
		k, err := p.epochKeys(states[i])
		if err != nil {
			t.Fatal(err)
		}
		s, err := layers.New(layers.Config{View: layers.View{Group: 1, ID: 1, Rank: k.Rank, N: 2}, Keys: k}, bottom.New(), encrypt.New(encrypt.Config{}))
		if err != nil {
			t.Fatal(err)
		}
		stacks[i] = s
	}
	for from := range 2 {
		to := 1 - from
		stacks[from].Cast([]byte("sealed message"))
		pk := stacks[from].Ready().Packets
		if len(pk) != 1 || bytes.Contains(pk[0].Data, []byte("sealed")) {
			t.Fatalf("member %d sent %d datagrams, or in clear", from, len(pk))
		}
		d := bytes.Clone(pk[0].Data)
		stacks[from].Advance()
		if !stacks[to].Receive(d) {
			t.Fatalf("member %d refused member %d's datagram", to, from)
		}
		if got := stacks[to].Ready().Deliveries; len(got) != 1 || string(got[0].Data) != "sealed message" {
			t.Fatalf("member %d delivered %v", to, got)
		}
		stacks[to].Advance()
	}
	for _, s := range stacks {
		s.EndView()
	}
}
