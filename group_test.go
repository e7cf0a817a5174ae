package conclave

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"
)

func TestJoinSaysWhyItCannotListen(t *testing.T) {
	c := listenLoopback(t)
	_, err := Join(context.Background(), Config{Group: "g", Listen: c.LocalAddr()})
	want := "conclave: listen " + c.LocalAddr().String() + ": address already in use"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Join on a port in use: %v, want %q wrapping EADDRINUSE", err, want)
	}
}

// TestRekeyMakesANewViewOfTheSameMembers has one member of a group of two
// ask for a rekey round: both install a new view of the same members.
func TestRekeyMakesANewViewOfTheSameMembers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var gs []*Group
	for range 2 {
		cfg := Config{Group: "rekey", Listen: netip.MustParseAddrPort("127.0.0.1:0")}
		if len(gs) > 0 {
			cfg.Seeds = []netip.AddrPort{gs[0].LocalAddr()}
		}
		g, err := Join(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gs = append(gs, g)
	}
	var v View
	for _, g := range gs {
		var err error
		if v, err = g.AwaitView(ctx, func(v View) bool { return len(v.Members) == 2 }); err != nil {
			t.Fatal(err)
		}
	}
	if err := gs[1].Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		nv, err := g.AwaitView(ctx, func(nv View) bool { return nv.ID != v.ID })
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(nv.Members, v.Members) {
			t.Fatalf("rekey changed the members: %v → %v", v.Members, nv.Members)
		}
	}
}
