package conclave

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

func listenLoopback(t *testing.T) *transport.UDPConn {
	t.Helper()
	c, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestJoinRefusesItselfAsSeed(t *testing.T) {
	c := listenLoopback(t)
	other := listenLoopback(t)
	_, err := Join(context.Background(), Config{Group: "g", Conn: c, Seeds: []netip.AddrPort{other.LocalAddr(), c.LocalAddr()}, Insecure: true})
	if err == nil || !strings.Contains(err.Error(), "seed "+c.LocalAddr().String()+" is this member's own address") {
		t.Fatalf("Join with its own address as a seed: err = %v, want a refusal", err)
	}
	// The same address written as IPv4 in IPv6 is the same address.
	mapped := netip.AddrPortFrom(netip.AddrFrom16(c.LocalAddr().Addr().As16()), c.LocalAddr().Port())
	if _, err := Join(context.Background(), Config{Group: "g", Conn: c, Seeds: []netip.AddrPort{mapped}, Insecure: true}); err == nil {
		t.Fatalf("Join with its own address, IPv4-mapped, as a seed: no error")
	}

	// Members, the same list at every member, includes this one: that is
	// no mistake.
	g, err := Join(context.Background(), Config{Group: "g", Conn: c, Members: []netip.AddrPort{other.LocalAddr(), c.LocalAddr()}, Self: 1, Insecure: true})
	if err != nil {
		t.Fatalf("Join with Members: %v", err)
	}
	g.Close()
}

func TestJoinRefusesBadSeed(t *testing.T) {
	c := listenLoopback(t)
	for _, s := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:7000"), netip.MustParseAddrPort("127.0.0.1:0")} {
		if _, err := Join(context.Background(), Config{Group: "g", Conn: c, Seeds: []netip.AddrPort{s}, Insecure: true}); err == nil {
			t.Errorf("Join with seed %v: no error", s)
		}
	}
}

// recordHandler passes the log records it handles to a channel.
type recordHandler struct{ c chan slog.Record }

func (h recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordHandler) Handle(_ context.Context, r slog.Record) error {
	select {
	case h.c <- r.Clone():
	default:
	}
	return nil
}
func (h recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h recordHandler) WithGroup(string) slog.Handler      { return h }

func TestSeedWaitWarns(t *testing.T) {
	// The seed is a socket that never reads: nobody answers, and no ICMP
	// error comes back either.
	silent := listenLoopback(t)
	logs := make(chan slog.Record, 1024)
	g, err := Join(context.Background(), Config{
		Group:    "prices",
		Listen:   netip.MustParseAddrPort("127.0.0.1:0"),
		Seeds:    []netip.AddrPort{silent.LocalAddr()},
		SeedWait: 20 * time.Millisecond,
		Logger:   slog.New(recordHandler{logs}),
		Insecure: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case r := <-logs:
			if r.Message != "no seed has answered" {
				continue
			}
			if r.Level != slog.LevelWarn {
				t.Errorf("level %v, want warn", r.Level)
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if attrs["seeds"] != silent.LocalAddr().String() || attrs["group"] != "prices" || !strings.Contains(attrs["hint"], `"prices"`) {
				t.Errorf("attributes %v: want the seed, the group and a hint naming it", attrs)
			}
			return
		case <-timeout:
			t.Fatal("no warning 30s after the member started")
		}
	}
}

func TestSeedWatch(t *testing.T) {
	logs := make(chan slog.Record, 16)
	cfg := Config{Seeds: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:7000")}, SeedWait: 5 * time.Second, Group: "g", Logger: slog.New(recordHandler{logs})}
	warned := func() int {
		n := len(logs)
		for range n {
			<-logs
		}
		return n
	}

	w := newSeedWatch(&cfg)
	w.view(1) // the member's first view, of itself alone
	w.tick(4*time.Second, nil, nil)
	if n := warned(); n != 0 {
		t.Fatalf("%d warnings before SeedWait", n)
	}
	w.tick(5*time.Second, nil, nil)
	w.tick(6*time.Second, nil, nil)
	if n := warned(); n != 1 {
		t.Fatalf("%d warnings after SeedWait, want 1", n)
	}

	w = newSeedWatch(&cfg)
	w.view(2) // a seed answered
	w.view(1) // and the group was lost again: failure detection's business
	w.tick(time.Minute, nil, nil)
	if n := warned(); n != 0 {
		t.Fatalf("%d warnings once a seed had answered", n)
	}

	for _, c := range []Config{{SeedWait: time.Second}, {Seeds: cfg.Seeds, SeedWait: -1}} {
		c.Logger = cfg.Logger
		w = newSeedWatch(&c)
		w.tick(time.Minute, nil, nil)
		if n := warned(); n != 0 {
			t.Fatalf("%d warnings with no seeds or SeedWait < 0", n)
		}
	}
}

// TestSeedWatchGivesTheReason: a member that a group's coordinator
// refused, and told why, warns after SeedWait that a group refused it,
// with the coordinator, its identity and its reason; one that was not told
// warns that a group answered.
func TestSeedWatchGivesTheReason(t *testing.T) {
	logs := make(chan slog.Record, 16)
	cfg := Config{Seeds: []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:7000")}, SeedWait: time.Second, Group: "g", Logger: slog.New(recordHandler{logs})}
	coord := Endpoint{Addr: netip.MustParseAddrPort("10.0.0.1:7000"), Inc: 7}
	refusal := membership.Refusal{Coordinator: coord, CoordinatorIdentity: Identity{Provider: "noise", Name: "group key"},
		Identity: Identity{Provider: "noise", Name: "my key"}, Reason: "auth: noise:my key is not on the allow list"}
	answered := func() bool { return true }
	for _, tc := range []struct {
		refused func() (membership.Refusal, bool)
		want    string
	}{
		{func() (membership.Refusal, bool) { return refusal, true }, "a group refused this member"},
		{func() (membership.Refusal, bool) { return membership.Refusal{}, false }, "a group answered but did not take this member in"},
	} {
		w := newSeedWatch(&cfg)
		w.tick(2*time.Second, answered, tc.refused)
		r := <-logs
		if r.Message != tc.want {
			t.Fatalf("warning %q, want %q", r.Message, tc.want)
		}
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		if _, told := tc.refused(); told && (attrs["reason"] != refusal.Reason || attrs["coordinator"] != coord.String() ||
			attrs["coordinator_identity"] != refusal.CoordinatorIdentity.String() || !strings.Contains(attrs["hint"], "allow list")) {
			t.Errorf("attributes %v: want the coordinator, its identity, its reason and a hint", attrs)
		}
	}
}

// TestSeedWaitTellsARefusal: a secured member whose key the group does not
// allow ran a handshake with it and was never taken in; after SeedWait it
// says so, and hints at the allow lists, rather than that no seed
// answered. Which of the two absorbs the other follows their endpoints:
// when the group's coordinator admits the stranger as a joiner, it tells
// the stranger why it refused it, and the warning says that a group
// refused this member, with the coordinator's identity and its reason;
// when the stranger's view was to absorb the group, the group's
// coordinator just leaves, and the warning says that a group answered.
func TestSeedWaitTellsARefusal(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	a, _ := noise.GenerateKey(rand.Reader)
	s, _ := noise.GenerateKey(rand.Reader)
	timing := membership.Timing{Flush: 300 * time.Millisecond, Merge: 300 * time.Millisecond}
	g, err := Join(ctx, Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Timing: timing,
		Credential: noise.NewCredential(a), Admit: auth.Allow(a.Public().String())})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	logs := make(chan slog.Record, 1024)
	stranger, err := Join(ctx, Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Timing: timing,
		Seeds: []netip.AddrPort{g.LocalAddr()}, SeedWait: 2 * time.Second, Logger: slog.New(recordHandler{logs}),
		Credential: noise.NewCredential(s), Admit: auth.Allow(a.Public().String(), s.Public().String())})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()
	told := false
	for {
		select {
		case r := <-logs:
			// The membership protocol's own warning comes with the
			// refusal; the one after SeedWait sums it up.
			if r.Level >= slog.LevelWarn && r.Message == "a group's coordinator refused this member" {
				told = true
				continue
			}
			if r.Level < slog.LevelWarn {
				continue
			}
			want := "a group answered but did not take this member in"
			if told {
				want = "a group refused this member"
			}
			if r.Message != want {
				t.Fatalf("warning %q, want %q", r.Message, want)
			}
			attrs := map[string]string{}
			r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
			if !strings.Contains(attrs["hint"], "allow list") || attrs["identity"] != s.Public().String() {
				t.Errorf("attributes %v: want this member's identity and a hint at the allow lists", attrs)
			}
			if told && (attrs["coordinator_identity"] != a.Public().String() || !strings.Contains(attrs["reason"], "is not on the allow list")) {
				t.Errorf("attributes %v: want the coordinator's identity and its reason", attrs)
			}
			t.Logf("told why: %v", told)
			return
		case <-ctx.Done():
			t.Fatal("no warning")
		}
	}
}
