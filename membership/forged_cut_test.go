package membership

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/sign"
	"github.com/conclave-go/conclave/transport"
)

// An admitted insider can send a member another member's multicast at a
// sequence number the origin never used (its next one). The reliable
// multicast layer delivers it up at once, so it counts in that member's
// delivery vector; the sender authentication layer holds it, as no
// signature for it will ever come. The tests here check that a view change
// then ends as usual, the origin's stream cut at what the origin itself
// sent, and that nobody delivers the forgery.

// forgeLayer sits below mnak and, on the first tick after the test arms
// it, passes up one multicast claiming origin at sequence number seq, as
// mnak reads it from a datagram: an insider's retransmission, say.
type forgeLayer struct {
	port *layers.Port
	h    *forgeHandle
}

// forgeHandle arms the forge layer of a member's current stack.
type forgeHandle struct {
	armed  bool
	origin int
	seq    uint64
}

// forgedPayload is what the forgery carries above sign's header.
var forgedPayload = []byte("forged by an insider")

func (l *forgeLayer) Name() string          { return "forge" }
func (l *forgeLayer) Init(p *layers.Port)   { l.port = p }
func (l *forgeLayer) Up(ev *layers.Event)   { l.port.Up(ev) }
func (l *forgeLayer) Down(ev *layers.Event) { l.port.Down(ev) }

func (l *forgeLayer) Tick(time.Duration) {
	if !l.h.armed {
		return
	}
	l.h.armed = false
	// mnak's ECast header (the sequence number), then sign's mark of a
	// batch's message that is not its last, then the payload.
	body := wire.AppendUvarint(nil, l.h.seq)
	body = append(body, 0)
	body = append(body, forgedPayload...)
	ev := l.port.NewEvent(layers.ECast, l.h.origin)
	ev.Msg.Body = body
	l.port.Up(ev)
	l.port.FreeEvent(ev)
}

func init() {
	layers.Register(layers.Registration{Name: "forge", Doc: "test: passes up a forged multicast",
		New: func(opts any) (layers.Layer, error) {
			h, ok := opts.(*forgeHandle)
			if !ok {
				return nil, errors.New("forge: options are a *forgeHandle")
			}
			return &forgeLayer{h: h}, nil
		}})
}

// signedStack is the reliable stack with sender authentication and the
// forge layer under mnak.
var signedStack = []string{"bottom", "bundle", "forge", "mnak", "sign", "pt2pt", "stable", "mflow", "frag"}

// signing is a participant whose views have sender signature keys: every
// member's Ed25519 key, known to all.
type signing struct {
	plain
	self Endpoint
	keys map[Endpoint]ed25519.PrivateKey
}

func (s signing) Install(v View) (layers.Keys, error) {
	k := &edKeys{own: s.keys[s.self]}
	for _, e := range v.Members {
		priv, ok := s.keys[e]
		if !ok {
			return nil, fmt.Errorf("signing: no key for %v", e)
		}
		k.pubs = append(k.pubs, priv.Public().(ed25519.PublicKey))
	}
	return k, nil
}

// edKeys are one member's signature keys in one view.
type edKeys struct {
	own  ed25519.PrivateKey
	pubs []ed25519.PublicKey
}

func (k *edKeys) Release() {}

func (k *edKeys) SenderSign(label string, content []byte) ([]byte, error) {
	return ed25519.Sign(k.own, append([]byte(label), content...)), nil
}

func (k *edKeys) SenderVerify(rank int, label string, content, sig []byte) bool {
	return rank >= 0 && rank < len(k.pubs) && ed25519.Verify(k.pubs[rank], append([]byte(label), content...), sig)
}

var _ sign.Keys = (*edKeys)(nil)

// newSignedCluster forms a group of n members with sender authentication
// and a forge layer each.
func newSignedCluster(t *testing.T, n int) (*cluster, []*forgeHandle) {
	c := &cluster{t: t, net: transport.NewNetwork(1, transport.Faults{}), timing: testTiming}
	keys := make(map[Endpoint]ed25519.PrivateKey)
	handles := make([]*forgeHandle, n)
	c.configure = func(i int, cfg *Config) {
		seed := [ed25519.SeedSize]byte{byte(i + 1)}
		keys[cfg.Self] = ed25519.NewKeyFromSeed(seed[:])
		handles[i] = &forgeHandle{}
		cfg.Participant = signing{self: cfg.Self, keys: keys}
		cfg.Layers = signedStack
		cfg.Options = compose.Options{Layers: map[string]any{"forge": handles[i]}}
	}
	for range n {
		c.add()
	}
	c.runUntil(3*time.Second, fmt.Sprintf("one view of %d", n), func() bool { return c.converged(all(n)...) })
	return c, handles
}

// castsFrom counts member i's deliveries of multicasts from e, and of the
// forgery from anyone.
func (c *cluster) castsFrom(i int, e Endpoint) (casts, forged int) {
	for _, ev := range c.events[i] {
		if ev.Kind != Message || !ev.Multicast {
			continue
		}
		if bytes.Equal(ev.Data, forgedPayload) {
			forged++
		} else if ev.From == e {
			casts++
		}
	}
	return casts, forged
}

// TestForgeryBeyondOriginsCountDoesNotStallViewChange has an insider's
// forgery of a member's next multicast reach another member, either
// before the view change (it reaches that member's stack before its
// delivery vector is taken, held there for its signature) or during it,
// at the coordinator, once the coordinator has reported its own vector
// (so that it lies beyond the cut). Either way the
// view change must end in time, without anyone going on alone, every
// member having delivered the origin's multicasts and nobody the forgery.
// Cut at the most any survivor delivered, the first stalls at the origin,
// which never reaches a count it never sent; the second at the
// coordinator, which refuses a cut below what it delivered.
func TestForgeryBeyondOriginsCountDoesNotStallViewChange(t *testing.T) {
	for _, during := range []bool{false, true} {
		t.Run(map[bool]string{false: "before the flush", true: "during the flush at the coordinator"}[during], func(t *testing.T) {
			const casts = 3
			c, handles := newSignedCluster(t, 3)
			// The coordinator, the origin of the multicasts, and the
			// member the forgery reaches.
			co := c.index(c.members[0].view.Members[0].Addr)
			o := (co + 1) % 3
			ti := (co + 2) % 3
			if during {
				ti = co
			}
			origin, target, coord := c.members[o], c.members[ti], c.members[co]
			for k := range casts {
				origin.Cast([]byte(fmt.Sprintf("cast %d", k)))
				c.drain(o)
			}
			c.runUntil(time.Second, "every member delivers the origin's multicasts", func() bool {
				for i := range c.members {
					if n, _ := c.castsFrom(i, origin.self); n != casts {
						return false
					}
				}
				return true
			})
			r := target.view.Rank(origin.self)
			sent := origin.flush.Sent()
			if got := target.flush.Delivered(r); got != sent {
				t.Fatalf("the target delivered %d of the origin's %d multicasts", got, sent)
			}
			forge := func() {
				h := handles[ti]
				h.armed, h.origin, h.seq = true, r, sent
				target.Tick(c.now)
				c.drain(ti)
				// Held by the sign layer for a signature that never
				// comes, the forgery does not count as delivered.
				if got := target.flush.Delivered(r); got != sent {
					t.Fatalf("the target counts %d delivered, the origin sent %d", got, sent)
				}
			}
			before := coord.view.ID
			if !during {
				forge()
			}
			if during {
				// Everything sent to the coordinator is lost until it has
				// reported its own vector and taken the forgery; the
				// others repeat their replies.
				c.drop = func(_, to netip.AddrPort, _ []byte) bool { return to == coord.self.Addr }
			}
			coord.Rekey()
			c.drain(co)
			if during {
				c.runUntil(testTiming.Stuck/4, "the coordinator reports its vector", func() bool {
					p := coord.part
					return p != nil && p.phase == pFlushed
				})
				if coord.coord == nil || coord.coord.phase != cFlush {
					t.Fatal("the coordinator chose the cut before the forgery could come")
				}
				forge()
				c.drop = nil
			}
			c.runUntil(testTiming.Stuck/2, "a new view of the three", func() bool {
				return c.converged(all(3)...) && coord.view.ID != before
			})
			for i, m := range c.members {
				if n := m.counters["went_alone"] + m.counters["drop.sync_bad_cut"]; n != 0 {
					t.Errorf("member %d went alone or refused a cut %d times", i, n)
				}
				if n, forged := c.castsFrom(i, origin.self); n != casts || forged != 0 {
					t.Errorf("member %d delivered %d of the origin's %d multicasts, and %d forgeries", i, n, casts, forged)
				}
			}
		})
	}
}
