package conclave

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/transport"
)

// ErrClosed is returned by a Group's methods after Close.
var ErrClosed = errors.New("conclave: group closed")

// Group is a member's handle on its group. Its methods are safe for
// concurrent use.
type Group struct {
	cfg    Config
	conn   transport.Conn
	ownsC  bool
	reqs   chan request
	events chan Event
	stats  chan chan []layers.Counter
	done   chan struct{} // closed by Close
	exited chan struct{} // closed when the driver has stopped
	once   sync.Once
	err    error // why the driver stopped, set before exited closes
}

type request struct {
	to   int // layers.AllPeers for a multicast
	data []byte
}

// Join starts this member of the group described by cfg.
func Join(ctx context.Context, cfg Config) (*Group, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	stack, err := compose.Build(layers.Config{
		View:        layers.View{Group: GroupID(c.Group), Rank: c.Self, N: len(c.Members)},
		Seed:        seed(),
		MaxDatagram: c.MaxDatagram,
		MaxMessage:  c.MaxMessage,
	}, c.Layers, c.Options)
	if err != nil {
		return nil, fmt.Errorf("conclave: %w", err)
	}
	g := &Group{
		cfg:    c,
		conn:   c.Conn,
		reqs:   make(chan request, c.Backlog),
		events: make(chan Event, 4096),
		stats:  make(chan chan []layers.Counter),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	if g.conn == nil {
		uc, err := transport.ListenUDP(c.Members[c.Self], transport.UDPOptions{})
		if err != nil {
			return nil, fmt.Errorf("conclave: %w", err)
		}
		g.conn, g.ownsC = uc, true
	}
	d := newDriver(g, stack)
	go d.readLoop()
	go d.run()
	return g, nil
}

// Rank is this member's rank.
func (g *Group) Rank() int { return g.cfg.Self }

// Size is the number of members.
func (g *Group) Size() int { return len(g.cfg.Members) }

// Multicast sends data to every member, this one included, reliably and in
// this member's order. It copies data. It blocks while flow control holds
// the group back, until ctx ends or the group closes.
func (g *Group) Multicast(ctx context.Context, data []byte) error {
	return g.submit(ctx, request{to: layers.AllPeers, data: data})
}

// Send sends data to the member of rank to, reliably and in order. It copies
// data and blocks like Multicast.
func (g *Group) Send(ctx context.Context, to int, data []byte) error {
	if to < 0 || to >= len(g.cfg.Members) {
		return fmt.Errorf("conclave: send: no member of rank %d", to)
	}
	return g.submit(ctx, request{to: to, data: data})
}

func (g *Group) submit(ctx context.Context, r request) error {
	if len(r.data) > g.cfg.MaxMessage {
		return fmt.Errorf("conclave: message of %d bytes exceeds the limit of %d", len(r.data), g.cfg.MaxMessage)
	}
	r.data = append([]byte(nil), r.data...)
	select {
	case g.reqs <- r:
		return nil
	case <-g.exited:
		return g.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Events delivers messages in order. It is closed after Close. A member
// that stops reading events slows the whole group down (flow control) but
// loses nothing.
func (g *Group) Events() <-chan Event { return g.events }

// Counters returns the stack's statistics: messages delivered, retransmitted,
// dropped (by reason), and so on.
func (g *Group) Counters() ([]layers.Counter, error) {
	reply := make(chan []layers.Counter, 1)
	select {
	case g.stats <- reply:
		return <-reply, nil
	case <-g.exited:
		return nil, g.closedErr()
	}
}

// Close stops the member at once. Messages not yet delivered everywhere may
// be lost to the members that did not get them.
func (g *Group) Close() error {
	g.once.Do(func() { close(g.done) })
	<-g.exited
	if errors.Is(g.err, ErrClosed) {
		return nil
	}
	return g.err
}

func (g *Group) closedErr() error {
	if g.err != nil {
		return g.err
	}
	return ErrClosed
}

// LocalAddr is the address the member receives on.
func (g *Group) LocalAddr() netip.AddrPort { return g.conn.LocalAddr() }
