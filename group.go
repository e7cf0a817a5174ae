package conclave

import (
	"context"
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sync"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/secure"
	"github.com/conclave-go/conclave/transport"
)

// MaxDatagram is the longest datagram a member sends, and so the longest
// its transport accepts: the larger of a stack datagram and a membership
// control datagram (longer control messages travel in fragments).
const MaxDatagram = max(layers.DefaultMaxDatagram, membership.MaxControlDatagram)

// ErrClosed is returned by a Group's methods after Close or Leave.
var ErrClosed = errors.New("conclave: group closed")

// Group is a member's handle on its group. Its methods are safe for
// concurrent use.
type Group struct {
	cfg      Config
	self     Endpoint
	conn     transport.Conn
	ownsC    bool
	reqs     chan request
	wake     chan struct{} // tells the driver goroutine to look at its queues
	driver   *driver
	events   chan Event
	stats    chan chan []layers.Counter
	leave    chan struct{}
	evict    chan Endpoint
	rekey    chan struct{}
	done     chan struct{} // closed by Close
	exited   chan struct{} // closed when the driver has stopped
	once     sync.Once
	lonce    sync.Once
	err      error    // why the driver stopped, set before exited closes
	exporter exporter // the participant's exporter, if it has one

	mu      sync.Mutex
	view    View
	changed chan struct{} // closed and replaced at each view change
}

type request struct {
	cast bool
	to   Endpoint
	data []byte
}

// Join starts a member of the group described by cfg. It returns at once,
// with the member alone in a view of its own; it finds the other members
// through its seeds, and Events reports each view it installs (AwaitView
// waits for one). A member still alone after cfg.SeedWait logs a warning.
// Join fails if cfg is invalid, if the address cannot be listened on, or if
// a seed is the member's own address.
func Join(ctx context.Context, cfg Config) (*Group, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	g := &Group{
		cfg:     c,
		conn:    c.Conn,
		reqs:    make(chan request, c.Backlog),
		wake:    make(chan struct{}, 1),
		events:  make(chan Event, 4096),
		stats:   make(chan chan []layers.Counter),
		leave:   make(chan struct{}),
		evict:   make(chan Endpoint),
		rekey:   make(chan struct{}),
		done:    make(chan struct{}),
		exited:  make(chan struct{}),
		changed: make(chan struct{}),
	}
	if g.conn == nil {
		// The group's datagram size: no member sends a datagram longer
		// than its stack's or its largest control message, so anything
		// longer is dropped by the transport before it costs more.
		uc, err := transport.ListenUDP(c.Listen, transport.UDPOptions{MaxDatagram: MaxDatagram})
		if err != nil {
			return nil, listenError(c.Listen, err)
		}
		g.conn, g.ownsC = uc, true
	}
	if err := checkSeeds(c.Seeds, g.conn.LocalAddr()); err != nil {
		if g.ownsC {
			g.conn.Close()
		}
		return nil, err
	}
	g.self = Endpoint{Addr: g.conn.LocalAddr(), Inc: uint32(random())}
	participant := c.Participant
	if c.Credential != nil {
		sp, err := secure.New(secure.Config{
			Credential:    c.Credential,
			Admit:         admitSelf(c.Credential.Identity(), c.Admit),
			Suite:         c.Suite,
			Group:         c.Group,
			RekeyInterval: c.RekeyInterval,
			Logger:        c.Logger,
		})
		if err != nil {
			if g.ownsC {
				g.conn.Close()
			}
			return nil, fmt.Errorf("conclave: %w", err)
		}
		participant = sp
	}
	g.exporter, _ = participant.(exporter)
	member, err := membership.New(membership.Config{
		Self:        g.self,
		Group:       GroupID(c.Group),
		Seeds:       c.Seeds,
		Layers:      c.Layers,
		Options:     c.Options,
		MaxDatagram: c.MaxDatagram,
		MaxMessage:  c.MaxMessage,
		Seed:        random(),
		Timing:      c.Timing,
		Participant: participant,
		Logger:      c.Logger,
	})
	if err != nil {
		if g.ownsC {
			g.conn.Close()
		}
		return nil, fmt.Errorf("conclave: %w", err)
	}
	g.view = member.View()
	d := newDriver(g, member)
	g.driver = d
	go d.readLoop()
	go d.run()
	return g, nil
}

// admitSelf returns admit, except that it admits self, this member's own
// identity: every member checks every identity of a view it enters, its own
// among them, and a list of the others' keys must not keep a member out of
// its own group.
func admitSelf(self auth.Identity, admit func(auth.Identity) error) func(auth.Identity) error {
	return func(id auth.Identity) error {
		if id.Provider == self.Provider && id.Name == self.Name {
			return nil
		}
		return admit(id)
	}
}

// listenError says why the socket could not be opened in one clause, as in
// "conclave: listen 127.0.0.1:7000: address already in use": the operating
// system's reason (errors.Is finds it, syscall.EADDRINUSE for one) rather
// than the chain of calls that met it, each naming the address again.
func listenError(addr netip.AddrPort, err error) error {
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return fmt.Errorf("conclave: listen %v: %w", addr, err)
}

// Self is this member's endpoint.
func (g *Group) Self() Endpoint { return g.self }

// View returns the view this member is in now.
func (g *Group) View() View {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.view.Clone()
}

// AwaitView waits until the member's view satisfies ok, and returns it.
func (g *Group) AwaitView(ctx context.Context, ok func(View) bool) (View, error) {
	for {
		g.mu.Lock()
		v, changed := g.view.Clone(), g.changed
		g.mu.Unlock()
		if ok(v) {
			return v, nil
		}
		select {
		case <-changed:
		case <-g.exited:
			return v, g.closedErr()
		case <-ctx.Done():
			return v, ctx.Err()
		}
	}
}

func (g *Group) setView(v View) {
	g.mu.Lock()
	g.view = v
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// Multicast sends data to every member of the view, this one included,
// reliably and in this member's order. It copies data. During a view change
// the message waits and goes out in the next view. It blocks while flow
// control holds the member back, until ctx ends or the member stops. When
// the member is idle, the caller's goroutine runs the stack on the message
// and writes it to the network before Multicast returns, which saves a
// goroutine hand-off; a burst of calls leaves the later messages to the
// member's own goroutine, which bundles them.
func (g *Group) Multicast(ctx context.Context, data []byte) error {
	return g.submit(ctx, request{cast: true, data: data})
}

// Send sends data to member to, reliably and in order, if it is in the view
// when the message goes out. It copies data and blocks like Multicast.
func (g *Group) Send(ctx context.Context, to Endpoint, data []byte) error {
	return g.submit(ctx, request{to: to, data: data})
}

func (g *Group) submit(ctx context.Context, r request) error {
	if len(r.data) > g.cfg.MaxMessage {
		return fmt.Errorf("conclave: message of %d bytes exceeds the limit of %d", len(r.data), g.cfg.MaxMessage)
	}
	r.data = append([]byte(nil), r.data...)
	select {
	case g.reqs <- r:
		g.driver.submitted()
		return nil
	case <-g.exited:
		return g.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// notify wakes the driver goroutine, unless it has a wake-up waiting.
func (g *Group) notify() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// Events delivers what happens in the group, in order: messages, blocks,
// view changes. It is closed when the member stops. A member that stops
// reading events slows the whole group down (flow control) but loses
// nothing.
func (g *Group) Events() <-chan Event { return g.events }

// Counters returns the member's statistics: messages delivered,
// retransmitted, dropped (by reason), view changes, and so on.
func (g *Group) Counters() ([]layers.Counter, error) {
	reply := make(chan []layers.Counter, 1)
	select {
	case g.stats <- reply:
		return <-reply, nil
	case <-g.exited:
		return nil, g.closedErr()
	}
}

// Evict asks the group to remove member e, as if this member's failure
// detector suspected it: the coordinator runs a view change without it. A
// member that is in fact alive comes back by merging, unless admission
// keeps it out.
func (g *Group) Evict(ctx context.Context, e Endpoint) error {
	select {
	case g.evict <- e:
		return nil
	case <-g.exited:
		return g.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Rekey asks for a rekey round: a view change with the same members and a
// new view id, in which a secured group agrees on a new key epoch (a
// KeyChange event with ReasonRekey follows the view). It returns once the
// request is with the member, not when the new view is installed
// (AwaitView waits for that).
func (g *Group) Rekey(ctx context.Context) error {
	select {
	case g.rekey <- struct{}{}:
		return nil
	case <-g.exited:
		return g.closedErr()
	case <-ctx.Done():
		return ctx.Err()
	}
}

// exporter is what a participant with key epochs offers applications: the
// secure participant's MLS exporter.
type exporter interface {
	Export(label string, context []byte, length int) ([]byte, error)
}

// ErrNoKeys is returned by Export for a group without key epochs (an
// insecure one, or a participant without an exporter).
var ErrNoKeys = errors.New("conclave: no key epochs to export from: the group is not secured")

// Export derives a secret of length bytes for an application from the key
// epoch this member has installed (the MLS exporter, RFC 9420 §8.5): the
// members of the epoch's view get the same bytes for the same label and
// context, nobody outside the view does, and another epoch gives unrelated
// bytes. The epoch changes with every view (and with Rekey): to know which
// one a secret came from, export after the KeyChange event of the epoch
// wanted, before the next Block. Safe for concurrent use.
func (g *Group) Export(label string, context []byte, length int) ([]byte, error) {
	if g.exporter == nil {
		return nil, ErrNoKeys
	}
	b, err := g.exporter.Export(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("conclave: export: %w", err)
	}
	return b, nil
}

// Leave leaves the group gracefully: the other members install a view
// without this one, after delivering everything it multicast. It returns
// when the member has left, or when ctx ends.
func (g *Group) Leave(ctx context.Context) error {
	g.lonce.Do(func() { close(g.leave) })
	select {
	case <-g.exited:
		if errors.Is(g.err, ErrClosed) {
			return nil
		}
		return g.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Done returns a channel that is closed when the member has stopped: it has
// left, it was closed, or it failed (Leave and Close then say why).
func (g *Group) Done() <-chan struct{} { return g.exited }

// Close stops the member at once, without telling the group: the others
// see it fail.
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

// random draws a number from the operating system's generator.
func random() uint64 {
	var b [8]byte
	crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
