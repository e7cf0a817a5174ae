package conclave

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/transport"
)

func testCredential(t *testing.T) (auth.Credential, noise.PublicKey) {
	t.Helper()
	k, err := noise.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return noise.NewCredential(k), k.Public()
}

// TestPolicyComposesTheStack: a secured group's layers follow Protection
// and SenderAuth, with or without total order and a Layers override, and
// a plain group's stay as named; contradictions are refused.
func TestPolicyComposesTheStack(t *testing.T) {
	cred, pub := testCredential(t)
	admit := auth.Allow(pub.String())
	secured := Config{Credential: cred, Admit: admit}
	for _, tc := range []struct {
		name string
		cfg  Config
		want []string
		err  string
	}{
		{"private", secured, []string{"bottom", "encrypt", "bundle", "mnak", "pt2pt", "private", "stable", "mflow", "frag"}, ""},
		{"sender auth, total order", Config{Credential: cred, Admit: admit, SenderAuth: true, TotalOrder: true},
			[]string{"bottom", "encrypt", "bundle", "mnak", "sign", "pt2pt", "private", "stable", "total", "mflow", "frag"}, ""},
		{"integrity only", Config{Credential: cred, Admit: admit, Protection: IntegrityOnly},
			[]string{"bottom", "encrypt", "bundle", "mnak", "pt2pt", "stable", "mflow", "frag"}, ""},
		{"override", Config{Credential: cred, Admit: admit, Layers: []string{"bottom", "mnak", "frag"}},
			[]string{"bottom", "encrypt", "mnak", "frag"}, ""},
		{"override placing encrypt", Config{Credential: cred, Admit: admit, Layers: []string{"bottom", "encrypt", "bundle", "mnak"}},
			[]string{"bottom", "encrypt", "bundle", "mnak"}, ""},
		{"plain", Config{Insecure: true}, compose.Reliable, ""},
		{"encrypt without keys", Config{Insecure: true, Layers: []string{"bottom", "encrypt", "mnak"}}, nil, "layer encrypt needs a secured group's keys"},
		{"sign not called for", Config{Credential: cred, Admit: admit, Layers: []string{"bottom", "mnak", "sign"}}, nil,
			"layer sign named in Layers, but the policy (Protection private, SenderAuth false) does not call for it"},
		{"private with integrity only", Config{Credential: cred, Admit: admit, Protection: IntegrityOnly,
			Layers: []string{"bottom", "mnak", "pt2pt", "private"}}, nil, "layer private named in Layers"},
		{"sign without mnak", Config{Credential: cred, Admit: admit, SenderAuth: true, Layers: []string{"bottom", "frag"}}, nil,
			"the policy calls for layer sign, which sits directly above mnak, and Layers has no mnak"},
		{"policy of a plain group", Config{Insecure: true, SenderAuth: true}, nil, "Protection and SenderAuth apply to a secured group"},
		{"integrity of a plain group", Config{Insecure: true, Protection: IntegrityOnly}, nil, "Protection and SenderAuth apply to a secured group"},
		{"unknown protection", Config{Credential: cred, Admit: admit, Protection: 7}, nil, "unknown Protection 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.cfg.Group = "g"
			tc.cfg.Listen = netip.MustParseAddrPort("127.0.0.1:0")
			c, err := tc.cfg.withDefaults()
			if tc.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), "conclave: config: ") || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("%v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.Layers, tc.want) {
				t.Errorf("layers %v, want %v", c.Layers, tc.want)
			}
			if tc.cfg.Credential == nil {
				if _, ok := c.Options.Layers["encrypt"]; ok {
					t.Error("a plain group has options for encrypt")
				}
				return
			}
			ec, ok := c.Options.Layers["encrypt"].(encrypt.Config)
			if !ok || ec.IntegrityOnly != (tc.cfg.Protection == IntegrityOnly) {
				t.Errorf("encrypt options %#v, want integrity only %v", c.Options.Layers["encrypt"], tc.cfg.Protection == IntegrityOnly)
			}
		})
	}
}

// TestPolicyKeepsTheEncryptOptions: the program's own encrypt options
// survive, with the mode set by Protection, and its map is not written to.
func TestPolicyKeepsTheEncryptOptions(t *testing.T) {
	cred, pub := testCredential(t)
	calls := 0
	mine := encrypt.Config{NewSealer: func(keys encrypt.Keys, rank, n int) (encrypt.Sealer, error) {
		calls++
		return encrypt.NewBlockSealer(keys, rank, n), nil
	}}
	opts := compose.Options{Layers: map[string]any{"encrypt": mine}}
	cfg := Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"), Credential: cred, Admit: auth.Allow(pub.String()),
		Protection: IntegrityOnly, Options: opts}
	c, err := cfg.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	ec := c.Options.Layers["encrypt"].(encrypt.Config)
	if !ec.IntegrityOnly || ec.NewSealer == nil {
		t.Errorf("encrypt options %#v", ec)
	}
	if opts.Layers["encrypt"].(encrypt.Config).IntegrityOnly {
		t.Error("the program's options were changed")
	}
	cfg.Options.Layers = map[string]any{"encrypt": 3}
	if _, err := cfg.withDefaults(); err == nil || !strings.Contains(err.Error(), `Options.Layers["encrypt"] is a int, want an encrypt.Config`) {
		t.Errorf("options of the wrong type: %v", err)
	}
}

// tapConn records every datagram a member sends. Its mutex also keeps
// the test's writes apart from the member's: a transport writes from one
// goroutine at a time.
type tapConn struct {
	transport.Conn
	mu   sync.Mutex
	sent []transport.Outgoing
}

func (c *tapConn) WriteBatch(pkts []transport.Outgoing) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		c.sent = append(c.sent, transport.Outgoing{To: p.To, Data: bytes.Clone(p.Data)})
	}
	return c.Conn.WriteBatch(pkts)
}

// replay sends again every datagram sent so far to addr, from the same
// socket.
func (c *tapConn) replay(addr netip.AddrPort) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var again []transport.Outgoing
	for _, p := range c.sent {
		if p.To == addr {
			again = append(again, p)
		}
	}
	_, err := c.Conn.WriteBatch(again)
	return err
}

func (c *tapConn) contains(b []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, d := range c.sent {
		if bytes.Contains(d.Data, b) {
			return true
		}
	}
	return false
}

// TestProtectionOnTheWire: two members of a secured group exchange a
// multicast and a Send. Private, neither appears in any datagram on the
// wire; IntegrityOnly, both do; in either mode every member delivers them,
// and the encrypt layer counts no drop.
func TestProtectionOnTheWire(t *testing.T) {
	for _, p := range []Protection{Private, IntegrityOnly} {
		t.Run(p.String(), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			ca, pa := testCredential(t)
			cb, pb := testCredential(t)
			admit := auth.Allow(pa.String(), pb.String())
			var taps []*tapConn
			var gs []*Group
			for i, cred := range []auth.Credential{ca, cb} {
				uc, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{MaxDatagram: MaxDatagram})
				if err != nil {
					t.Fatal(err)
				}
				defer uc.Close()
				tap := &tapConn{Conn: uc}
				cfg := Config{Group: "on the wire", Conn: tap, Credential: cred, Admit: admit, Protection: p}
				if i > 0 {
					cfg.Seeds = []netip.AddrPort{gs[0].LocalAddr()}
				}
				g, err := Join(ctx, cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer g.Close()
				taps, gs = append(taps, tap), append(gs, g)
			}
			for _, g := range gs {
				if _, err := g.AwaitView(ctx, func(v View) bool { return len(v.Members) == 2 }); err != nil {
					t.Fatal(err)
				}
			}
			cast := []byte("a multicast every member reads, and only the members")
			send := []byte("a message from the first member to the second alone")
			if err := gs[0].Multicast(ctx, cast); err != nil {
				t.Fatal(err)
			}
			if err := gs[0].Send(ctx, gs[1].Self(), send); err != nil {
				t.Fatal(err)
			}
			awaitMessage(ctx, t, gs[0], cast)
			awaitMessage(ctx, t, gs[1], cast)
			awaitMessage(ctx, t, gs[1], send)
			for _, m := range [][]byte{cast, send} {
				if got := taps[0].contains(m); got != (p == IntegrityOnly) {
					t.Errorf("%q on the wire: %v", m, got)
				}
			}
			// Every datagram the first member sent the second, sent
			// again from its socket: the encrypt layer drops the stack's
			// as replays, and nothing is delivered twice.
			if err := taps[0].replay(gs[1].LocalAddr()); err != nil {
				t.Fatal(err)
			}
			for replays := uint64(0); replays == 0; {
				cs, err := gs[1].Counters()
				if err != nil {
					t.Fatal(err)
				}
				for _, c := range cs {
					if c.Layer == "encrypt" && c.Name == "drop.replay" {
						replays = c.Value
					}
				}
				select {
				case <-ctx.Done():
					t.Fatal("no replay dropped by the encrypt layer")
				case <-time.After(10 * time.Millisecond):
				}
			}
			end := []byte("the end")
			if err := gs[0].Multicast(ctx, end); err != nil {
				t.Fatal(err)
			}
			for {
				var ev Event
				select {
				case ev = <-gs[1].Events():
				case <-ctx.Done():
					t.Fatal(ctx.Err())
				}
				if ev.Kind != Message {
					continue
				}
				if bytes.Equal(ev.Data, end) {
					break
				}
				t.Errorf("delivered again: %q", ev.Data)
			}
		})
	}
}

func awaitMessage(ctx context.Context, t *testing.T, g *Group, want []byte) {
	t.Helper()
	for {
		select {
		case ev := <-g.Events():
			if ev.Kind == Message && bytes.Equal(ev.Data, want) {
				return
			}
		case <-ctx.Done():
			t.Fatalf("%v waiting for %q", ctx.Err(), want)
		}
	}
}

// TestJoinRefusesMisplacedEncrypt: a Layers override that names encrypt
// anywhere but directly above bottom is refused at Join, by the stack's
// placement check, before any datagram leaves.
func TestJoinRefusesMisplacedEncrypt(t *testing.T) {
	cred, pub := testCredential(t)
	g, err := Join(context.Background(), Config{Group: "g", Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Credential: cred, Admit: auth.Allow(pub.String()), Layers: []string{"bottom", "bundle", "encrypt", "mnak", "pt2pt", "stable", "mflow", "frag"}})
	if err == nil {
		g.Close()
		t.Fatal("encrypt above bundle accepted")
	}
	if !strings.Contains(err.Error(), "encrypt") {
		t.Errorf("error %q does not name encrypt", err)
	}
}
