package layers

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"
)

// View identifies the group and this member's place in it. Ranks run from 0
// to N-1; a stack for a fixed member list is built once per view.
type View struct {
	Group uint64 // group identifier, carried in every datagram
	ID    uint64 // view identifier
	Rank  int    // this member
	N     int    // number of members
}

// Config is the environment a stack is built with.
type Config struct {
	View View
	// Seed seeds the stack's random source; the same seed and the same
	// inputs give the same outputs.
	Seed uint64
	// MaxDatagram is the largest datagram the stack emits.
	MaxDatagram int
	// MaxMessage is the largest application message accepted and
	// reassembled.
	MaxMessage int
	// Keys is the view's key material, nil without one. The stack
	// releases it when it ends; see Keys.
	Keys Keys
}

// Defaults for Config fields left zero.
const (
	DefaultMaxDatagram = 1400
	DefaultMaxMessage  = 64 << 20
)

// Packet is a datagram for the transport, the one shape from a stack to a
// driver and from a driver (membership) to the transport.
//
// A stack addresses its packets by rank: To is a member's rank or
// AllPeers, and Addr is the zero value. A driver that knows the members'
// transport addresses fills in Addr, one packet per destination, and
// keeps To (the rank, or Unranked for an address outside the view, such
// as a joiner's); a transport sends to Addr. Data belongs to whoever made
// the packet until the driver's Advance (see Stack.Advance).
type Packet struct {
	To   int
	Addr netip.AddrPort
	Data []byte
}

// Unranked is the To of a packet for an address that has no rank in the
// stack's view: a stranger, a joiner, a member of another view.
const Unranked = -2

// Delivery is a message for the application, the one shape of a delivered
// message from the stack up: Type is ECast for a multicast (the sender's
// own included) and ESend for a point-to-point message to this member;
// From is the sender's rank in the view the stack serves, which a driver
// that knows the view turns into the sender's identity. Data belongs to
// the stack until its Advance.
type Delivery struct {
	Type Type
	From int
	Data []byte
}

// Multicast reports whether the delivery is a multicast rather than a
// message to this member alone.
func (d *Delivery) Multicast() bool { return d.Type == ECast }

// Ready is the output a driver collects after feeding inputs.
type Ready struct {
	Packets    []Packet
	Deliveries []Delivery
}

// Counter is one statistic kept by a stack.
type Counter struct {
	Layer, Name string
	Value       uint64
}

type counterKey struct{ layer, name string }

// Stack is a composed protocol stack for one member. See the package
// documentation for the driver's contract. It is not safe for concurrent use.
type Stack struct {
	cfg      Config
	layers   []Layer
	ports    []Port
	backlogs []Backlogger
	prints   []Footprinter
	now      time.Duration
	rand     *rand.Rand
	pcg      rand.PCG // rand's source, kept here: one allocation less per stack
	ready    Ready
	// bufs[i] is the whole pool buffer ready.Packets[i].Data lies in,
	// which may start past its front (see lend).
	bufs [][]byte
	free [][]byte
	// lent is the pool buffer last handed to a layer by Port.Buffer, until
	// it comes back down as a message's body or the next one is lent.
	lent     []byte
	events   []*Event
	counters map[counterKey]uint64
	// hostile counts the drops of input that was malformed, out of window
	// or otherwise refused, as opposed to a plain duplicate; Receive
	// compares it before and after to report whether a datagram was
	// accepted.
	hostile uint64
	// released records that cfg.Keys has been released.
	released bool
	flush    flush
}

// New composes a stack from layers, bottom first, and initialises them.
func New(cfg Config, ls ...Layer) (*Stack, error) {
	if len(ls) == 0 {
		return nil, errors.New("layers: empty stack")
	}
	if cfg.View.N < 1 || cfg.View.Rank < 0 || cfg.View.Rank >= cfg.View.N {
		return nil, fmt.Errorf("layers: rank %d outside a view of %d", cfg.View.Rank, cfg.View.N)
	}
	if cfg.MaxDatagram == 0 {
		cfg.MaxDatagram = DefaultMaxDatagram
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = DefaultMaxMessage
	}
	if cfg.MaxDatagram < 2*HeadRoom {
		return nil, fmt.Errorf("layers: max datagram %d is below %d", cfg.MaxDatagram, 2*HeadRoom)
	}
	s := &Stack{
		cfg:      cfg,
		layers:   ls,
		ports:    make([]Port, len(ls)),
		counters: make(map[counterKey]uint64),
		backlogs: make([]Backlogger, 0, len(ls)),
		prints:   make([]Footprinter, 0, len(ls)),
	}
	s.pcg.Seed(cfg.Seed, uint64(cfg.View.Rank))
	s.rand = rand.New(&s.pcg)
	seen := make(map[string]bool)
	for i, l := range ls {
		name := l.Name()
		if seen[name] {
			return nil, fmt.Errorf("layers: layer %q appears twice", name)
		}
		seen[name] = true
		s.ports[i] = Port{s: s, i: i, name: name}
		if b, ok := l.(Backlogger); ok {
			s.backlogs = append(s.backlogs, b)
		}
		if f, ok := l.(Footprinter); ok {
			s.prints = append(s.prints, f)
		}
		if err := s.flush.find(l); err != nil {
			return nil, err
		}
	}
	for i, l := range ls {
		l.Init(&s.ports[i])
	}
	return s, nil
}

// Names lists the layers, bottom first.
func (s *Stack) Names() []string {
	names := make([]string, len(s.layers))
	for i, l := range s.layers {
		names[i] = l.Name()
	}
	return names
}

// View returns the stack's view.
func (s *Stack) View() View { return s.cfg.View }

// Now is the time of the last Tick.
func (s *Stack) Now() time.Duration { return s.now }

func (s *Stack) up(i int, ev *Event) {
	if i < len(s.layers) {
		s.layers[i].Up(ev)
		return
	}
	if ev.Type == ECast || ev.Type == ESend {
		s.ready.Deliveries = append(s.ready.Deliveries, Delivery{Type: ev.Type, From: ev.Peer, Data: ev.Msg.Bytes()})
	}
}

func (s *Stack) down(i int, ev *Event) {
	if i >= 0 {
		s.layers[i].Down(ev)
		return
	}
	if !ev.Type.IsData() {
		return
	}
	to := ev.Peer
	if ev.Type.IsCast() {
		to = AllPeers
	}
	if to == s.cfg.View.Rank {
		return
	}
	if data, buf, ok := s.takeLent(&ev.Msg); ok {
		s.ready.Packets = append(s.ready.Packets, Packet{To: to, Data: data})
		s.bufs = append(s.bufs, buf)
		return
	}
	buf := s.buffer()
	data := ev.Msg.AppendTo(buf)
	s.ready.Packets = append(s.ready.Packets, Packet{To: to, Data: data})
	s.bufs = append(s.bufs, data)
}

// lend hands a layer an empty buffer from the pool for a datagram it
// writes whole (see Port.Buffer): the buffer's first HeadRoom bytes stay
// the stack's, room for the headers the layers below push.
func (s *Stack) lend() []byte {
	b := s.buffer()
	s.lent = b[:cap(b)]
	return b[HeadRoom:HeadRoom]
}

// takeLent turns m into a packet without copying its body if the body is
// the buffer last lent, from its front: the headers pushed below go into
// the room kept before it. buf is the whole buffer.
func (s *Stack) takeLent(m *Message) (data, buf []byte, ok bool) {
	b := s.lent
	if b == nil || len(m.Body) == 0 || &m.Body[0] != &b[HeadRoom] {
		return nil, nil, false
	}
	s.lent = nil
	start := HeadRoom - m.n
	copy(b[start:HeadRoom], m.Head())
	return b[start : HeadRoom+len(m.Body)], b, true
}

func (s *Stack) newEvent(t Type, peer int) *Event {
	if n := len(s.events); n > 0 {
		ev := s.events[n-1]
		s.events = s.events[:n-1]
		ev.Type, ev.Peer = t, peer
		return ev
	}
	return &Event{Type: t, Peer: peer}
}

func (s *Stack) freeEvent(ev *Event) {
	*ev = Event{}
	if len(s.events) < 64 {
		s.events = append(s.events, ev)
	}
}

func (s *Stack) buffer() []byte {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b[:0]
	}
	return make([]byte, 0, s.cfg.MaxDatagram+HeadRoom)
}

func (s *Stack) count(layer, name string, delta uint64) {
	s.counters[counterKey{layer, name}] += delta
}

// Receive feeds a datagram from the network. The stack owns data from then
// on and may keep slices of it.
//
// It reports whether the datagram was accepted: true iff it parsed and no
// layer dropped any part of it as malformed, out of window or otherwise
// refused (Port.Drop). A plain duplicate or replay of something the stack
// already holds is still accepted (Port.Ignore). A caller may therefore
// credit the sender with liveness only for accepted datagrams.
func (s *Stack) Receive(data []byte) (accepted bool) {
	before := s.hostile
	ev := s.newEvent(0, AllPeers)
	ev.Msg.Body = data
	s.layers[0].Up(ev)
	s.freeEvent(ev)
	return s.hostile == before
}

// Cast multicasts data to the group, the sender included. The stack owns
// data from then on.
func (s *Stack) Cast(data []byte) {
	ev := s.newEvent(ECast, AllPeers)
	ev.Msg.Body = data
	s.layers[len(s.layers)-1].Down(ev)
	s.freeEvent(ev)
}

// Send sends data to member to. The stack owns data from then on.
func (s *Stack) Send(to int, data []byte) {
	if to < 0 || to >= s.cfg.View.N {
		s.count("stack", "drop.bad_destination", 1)
		return
	}
	ev := s.newEvent(ESend, to)
	ev.Msg.Body = data
	s.layers[len(s.layers)-1].Down(ev)
	s.freeEvent(ev)
}

// Tick advances the stack's clock to now and lets every layer act on time,
// top first. Time never goes backwards.
func (s *Stack) Tick(now time.Duration) {
	if now > s.now {
		s.now = now
	}
	for i := len(s.layers) - 1; i >= 0; i-- {
		s.layers[i].Tick(s.now)
	}
}

// Flush tells the stack that no more input is coming for now: anything
// held back for bundling goes out, and the layers that batch work (sign's
// signatures, total's order) finish what this pass brought. A driver that
// never flushes leaves them to their timers.
func (s *Stack) Flush() {
	ev := s.newEvent(EFlush, AllPeers)
	s.layers[len(s.layers)-1].Down(ev)
	s.freeEvent(ev)
}

// EndView tells the layers that the view is over (see EViewEnd), then
// releases the view's key material (see Keys). The stack is not used
// afterwards, except to collect its last outputs, which the layers
// produced before the release.
func (s *Stack) EndView() {
	ev := s.newEvent(EViewEnd, AllPeers)
	s.layers[len(s.layers)-1].Down(ev)
	s.freeEvent(ev)
	s.release()
}

// Ready returns the outputs produced since the last Advance. The slices are
// valid until Advance.
func (s *Stack) Ready() Ready { return s.ready }

// Advance acknowledges the last Ready: packet buffers return to the stack's
// pool, so the driver must be done with them.
func (s *Stack) Advance() {
	for i := range s.ready.Packets {
		if len(s.free) < 256 {
			s.free = append(s.free, s.bufs[i])
		}
		s.ready.Packets[i] = Packet{}
		s.bufs[i] = nil
	}
	clear(s.ready.Deliveries)
	s.ready.Packets = s.ready.Packets[:0]
	s.bufs = s.bufs[:0]
	s.ready.Deliveries = s.ready.Deliveries[:0]
}

// Backlog is the number of messages the stack holds back for flow control.
func (s *Stack) Backlog() int {
	n := 0
	for _, b := range s.backlogs {
		n += b.Backlog()
	}
	return n
}

// Footprint is the bytes the stack's layers hold for messages and peers
// (see Footprinter). Messages waiting in flow control for the application's
// sake (Backlog) are not part of it: the driver bounds those.
func (s *Stack) Footprint() int {
	n := 0
	for _, f := range s.prints {
		n += f.Footprint()
	}
	return n
}

// FootprintBound is the most Footprint can ever be for this stack, whatever
// it receives: the sum of its layers' stated bounds, which follow from the
// Config (view size, MaxDatagram, MaxMessage) and the layers' windows. The
// table in the package documentation states each term.
func (s *Stack) FootprintBound() int {
	n := 0
	for _, f := range s.prints {
		n += f.FootprintBound()
	}
	return n
}

// Counters returns the stack's statistics, sorted by layer and name.
func (s *Stack) Counters() []Counter {
	out := make([]Counter, 0, len(s.counters))
	for k, v := range s.counters {
		out = append(out, Counter{Layer: k.layer, Name: k.name, Value: v})
	}
	slices.SortFunc(out, func(a, b Counter) int {
		return cmp.Or(cmp.Compare(a.Layer, b.Layer), cmp.Compare(a.Name, b.Name))
	})
	return out
}

// Counter returns one statistic, zero if it was never counted.
func (s *Stack) Counter(layer, name string) uint64 { return s.counters[counterKey{layer, name}] }

// Drops is the total of every layer's drop counters.
func (s *Stack) Drops() uint64 {
	var n uint64
	for k, v := range s.counters {
		if len(k.name) > 5 && k.name[:5] == "drop." {
			n += v
		}
	}
	return n
}

// Layer returns the layer named name, or nil.
func (s *Stack) Layer(name string) Layer {
	for _, l := range s.layers {
		if l.Name() == name {
			return l
		}
	}
	return nil
}
