package secure

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/sign"
)

var _ sign.Keys = (*EpochKeys)(nil)

// An epoch's keys sign a member's multicasts with its leaf's signature
// key: rank 1 delivers rank 0's multicast, and refuses the same multicast
// from a stack that claims rank 0 but signs with rank 1's key. Released
// keys sign nothing.
func TestEpochKeysSignMulticasts(t *testing.T) {
	ps, states := twoMemberEpoch(t)
	keys := make([]*EpochKeys, 2)
	stacks := make([]*layers.Stack, 2)
	names := []string{"bottom", "mnak", "sign"}
	for i, p := range ps {
		k, err := p.epochKeys(states[i])
		if err != nil {
			t.Fatal(err)
		}
		keys[k.Rank] = k
		cfg := layers.Config{View: layers.View{Group: 1, ID: 1, Rank: k.Rank, N: 2}, Keys: k}
		if stacks[k.Rank], err = compose.Build(cfg, names, compose.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	// A stack of rank 0 with rank 1's keys: an insider in another's name.
	rogue, err := compose.Build(layers.Config{View: layers.View{Group: 1, ID: 1, Rank: 0, N: 2}, Keys: keys[1]}, names, compose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Its first multicast takes number 0, which rank 1 has from rank 0
	// already; the second is the forgery.
	rogue.Cast([]byte("first"))
	rogue.Flush()
	rogue.Advance()
	for _, c := range []struct {
		from *layers.Stack
		msg  string
	}{{stacks[0], "from zero"}, {rogue, "forged"}} {
		c.from.Cast([]byte(c.msg))
		c.from.Tick(time.Second) // the batch is due
		c.from.Flush()
		for _, pk := range c.from.Ready().Packets {
			stacks[1].Receive(append([]byte(nil), pk.Data...))
		}
		c.from.Advance()
	}
	d := stacks[1].Ready().Deliveries
	if len(d) != 1 || string(d[0].Data) != "from zero" || d[0].From != 0 {
		t.Fatalf("delivered %v", d)
	}
	if n := stacks[1].Counter("sign", "drop.forged"); n != 1 {
		t.Fatalf("forged %d, want 1", n)
	}
	keys[0].Release()
	if _, err := keys[0].SenderSign(sign.Label, []byte("x")); err == nil {
		t.Fatal("released keys signed")
	}
	if keys[1].SenderVerify(2, sign.Label, []byte("x"), make([]byte, 64)) {
		t.Fatal("a rank outside the view verified")
	}
}
