package layers_test

import (
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// TestPacketsByRankDeliveriesByKind: a stack addresses its packets by rank
// and leaves the address to the driver; a delivery says whether it was a
// multicast.
func TestPacketsByRankDeliveriesByKind(t *testing.T) {
	a, err := layers.New(layers.Config{View: layers.View{Group: 7, ID: 1, N: 2, Rank: 0}}, bottom.New())
	if err != nil {
		t.Fatal(err)
	}
	b, err := layers.New(layers.Config{View: layers.View{Group: 7, ID: 1, N: 2, Rank: 1}}, bottom.New())
	if err != nil {
		t.Fatal(err)
	}
	a.Cast([]byte("all"))
	a.Send(1, []byte("one"))
	ps := a.Ready().Packets
	if len(ps) != 2 || ps[0].To != layers.AllPeers || ps[1].To != 1 || ps[0].Addr.IsValid() || ps[1].Addr.IsValid() {
		t.Fatalf("packets %+v, want one to all peers and one to rank 1, without addresses", ps)
	}
	for _, p := range ps {
		b.Receive(append([]byte(nil), p.Data...))
	}
	a.Advance()
	ds := b.Ready().Deliveries
	if len(ds) != 2 || !ds[0].Multicast() || ds[1].Multicast() || ds[0].From != 0 || string(ds[1].Data) != "one" {
		t.Fatalf("deliveries %+v, want the multicast then the message to this member alone", ds)
	}
}
