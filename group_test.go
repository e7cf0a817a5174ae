package conclave

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

func TestJoinSaysWhyItCannotListen(t *testing.T) {
	c := listenLoopback(t)
	_, err := Join(context.Background(), Config{Group: "g", Listen: c.LocalAddr(), Insecure: true})
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
		cfg := Config{Group: "rekey", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Insecure: true}
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

// TestParticipantOverUDP runs a group of three with the test participant
// over UDP on loopback, with handshake messages and decisions larger than
// a datagram: every member installs the same decision, and again after a
// rekey.
func TestParticipantOverUDP(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var gs []*Group
	var ps []*membershiptest.Participant
	for i := range 3 {
		p := &membershiptest.Participant{PSK: []byte("udp test"), Name: fmt.Sprint("m", i), HandshakePad: 50 << 10, PartPad: 50 << 10}
		cfg := Config{Group: "secured", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Participant: p}
		if len(gs) > 0 {
			cfg.Seeds = []netip.AddrPort{gs[0].LocalAddr()}
		}
		g, err := Join(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer g.Close()
		gs, ps = append(gs, g), append(ps, p)
	}
	same := func(ok func(View) bool) View {
		t.Helper()
		var v View
		for _, g := range gs {
			var err error
			if v, err = g.AwaitView(ctx, ok); err != nil {
				t.Fatal(err)
			}
		}
		// The participants are read only once every member's driver has
		// installed v; Counters waits for the driver's goroutine.
		for _, g := range gs {
			g.Counters()
		}
		return v
	}
	v := same(func(v View) bool { return len(v.Members) == 3 })
	if err := gs[2].Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	nv := same(func(nv View) bool { return nv.ID != v.ID && len(nv.Members) == 3 })
	var epochs []uint64
	for _, id := range []ViewID{v.ID, nv.ID} {
		want, ok := ps[0].Epoch(id)
		for i, p := range ps {
			if got, ok2 := p.Epoch(id); !ok || !ok2 || got != want {
				t.Fatalf("member %d installed epoch %x for %v, member 0 %x", i, got, id, want)
			}
		}
		epochs = append(epochs, want)
	}
	if epochs[0] == epochs[1] {
		t.Fatal("the rekey kept the epoch")
	}
}

// TestTransportDropsDatagramsOverTheGroupsSize sends a member datagrams one
// byte over MaxDatagram and near UDP's limit: its transport drops both, and
// counts them, before the member parses anything.
func TestTransportDropsDatagramsOverTheGroupsSize(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g, err := Join(ctx, Config{Group: "sizes", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, n := range []int{MaxDatagram + 1, 65000} {
		if _, err := c.WriteToUDPAddrPort(make([]byte, n), g.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	for {
		cs, err := g.Counters()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(cs, func(c layers.Counter) bool { return c.Layer == "transport" && c.Name == "drop.too_large" })
		if i >= 0 && cs[i].Value == 2 {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("transport counters: %v", cs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}
