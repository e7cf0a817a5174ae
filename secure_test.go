package conclave

import (
	"context"
	"crypto/rand"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// TestJoinIsSecuredByDefault: a configuration that says nothing about
// security is refused with a hint, as are contradictory ones; Insecure
// runs a plain group that has nothing to export.
func TestJoinIsSecuredByDefault(t *testing.T) {
	k, err := noise.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred := noise.NewCredential(k)
	admit := auth.Allow(k.Public().String())
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{}, "no Credential: a group is secured by default; set Credential (a Noise key: see auth/noise, and `keyadmin keygen noise -o FILE`"},
		{Config{Credential: cred}, "a Credential without Admit: a secured group needs an admission check; auth.Allow"},
		{Config{Credential: cred, Admit: admit, Insecure: true}, "Insecure with a Credential"},
		{Config{Credential: cred, Admit: admit, Participant: &membershiptest.Participant{}}, "both a Credential and a Participant"},
		{Config{Admit: admit, Insecure: true}, "Admit, Suite and RekeyInterval apply to a secured group"},
		{Config{Suite: 1, Insecure: true}, "Admit, Suite and RekeyInterval apply to a secured group"},
		{Config{Credential: cred, Admit: admit, RekeyInterval: -1}, "negative RekeyInterval"},
	} {
		tc.cfg.Group = "g"
		tc.cfg.Listen = netip.MustParseAddrPort("127.0.0.1:0")
		g, err := Join(context.Background(), tc.cfg)
		if err == nil {
			g.Close()
		}
		if err == nil || !strings.HasPrefix(err.Error(), "conclave: config: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.cfg, err, tc.want)
		}
	}
	g, err := Join(context.Background(), Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Insecure: true})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	if _, err := g.Export("label", nil, 32); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Export in an insecure group: %v", err)
	}
}

// TestOwnKeyNeedNotBeAllowed: two members whose allow lists name only the
// other's key form a group: a member always admits its own identity.
func TestOwnKeyNeedNotBeAllowed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, _ := noise.GenerateKey(rand.Reader)
	b, _ := noise.GenerateKey(rand.Reader)
	ga, err := Join(ctx, Config{Group: "own key", Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Credential: noise.NewCredential(a), Admit: auth.Allow(b.Public().String())})
	if err != nil {
		t.Fatal(err)
	}
	defer ga.Close()
	gb, err := Join(ctx, Config{Group: "own key", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Seeds: []netip.AddrPort{ga.LocalAddr()},
		Credential: noise.NewCredential(b), Admit: auth.Allow(a.Public().String())})
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Close()
	for _, g := range []*Group{ga, gb} {
		if _, err := g.AwaitView(ctx, func(v View) bool { return len(v.Members) == 2 }); err != nil {
			t.Fatal(err)
		}
	}
}

// TestRekeyInterval: a secured group with a RekeyInterval rekeys on its own:
// a KeyChange with ReasonRekey comes, with a later epoch, and the members
// export the same new secret.
func TestRekeyInterval(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, _ := noise.GenerateKey(rand.Reader)
	b, _ := noise.GenerateKey(rand.Reader)
	admit := auth.Allow(a.Public().String(), b.Public().String())
	ga, err := Join(ctx, Config{Group: "interval", Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Credential: noise.NewCredential(a), Admit: admit, RekeyInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer ga.Close()
	gb, err := Join(ctx, Config{Group: "interval", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Seeds: []netip.AddrPort{ga.LocalAddr()},
		Credential: noise.NewCredential(b), Admit: admit, RekeyInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer gb.Close()
	// Only the key changes of a view of both count: on a loaded machine
	// b may stay alone for longer than the interval and rekey alone first.
	var joined uint64
	both, haveJoined := false, false
	for {
		var ev Event
		select {
		case ev = <-gb.Events():
		case <-ctx.Done():
			t.Fatal("no rekey")
		}
		if ev.Kind == ViewChange {
			both = len(ev.View.Members) == 2
		}
		if ev.Kind != KeyChange || !both {
			continue
		}
		if ev.Reason != ReasonRekey {
			joined, haveJoined = ev.Epoch, true
			continue
		}
		if !haveJoined || ev.Epoch <= joined {
			t.Fatalf("rekey to epoch %d after epoch %d (joined: %v)", ev.Epoch, joined, haveJoined)
		}
		break
	}
}

// TestUnknownSuiteRefused: Join refuses a cipher suite it does not offer.
func TestUnknownSuiteRefused(t *testing.T) {
	k, _ := noise.GenerateKey(rand.Reader)
	g, err := Join(context.Background(), Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Credential: noise.NewCredential(k), Admit: auth.Allow(), Suite: 0x7777})
	if err == nil {
		g.Close()
	}
	if err == nil || !strings.Contains(err.Error(), "unknown cipher suite") {
		t.Fatalf("Join with suite 0x7777: %v", err)
	}
}
