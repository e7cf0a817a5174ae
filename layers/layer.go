package layers

import (
	"math/rand/v2"
	"time"
)

// Layer is one protocol layer: a pure state machine.
//
// Init is called once, before any other method, with the layer's Port. Up
// receives events from the layer below, Down from the layer above, Tick the
// current time at the driver's tick rate. A layer passes an event on (or
// emits new ones) through its Port; it may modify the event it was given and
// pass that same pointer on. Layers never block and never return errors:
// input they cannot accept is dropped and counted with Port.Drop.
type Layer interface {
	Name() string
	Init(p *Port)
	Up(ev *Event)
	Down(ev *Event)
	Tick(now time.Duration)
}

// Backlogger is implemented by layers that hold messages back (flow
// control). The driver stops taking input from the application while the
// stack's total backlog is above its limit.
type Backlogger interface {
	Backlog() int
}

// Footprinter is implemented by layers that hold state for messages or
// peers, state that input from the network can inflate.
//
// Footprint is the bytes the layer holds now: approximate, but it grows
// with everything an attacker can make it hold (messages kept, slots
// reserved, per-peer records). FootprintBound is the most Footprint may
// ever be for this layer, stated from the stack's Config and the layer's own
// limits; it holds under any input, hostile or an honest heavy workload.
// Both are valid once Init has run.
type Footprinter interface {
	Footprint() int
	FootprintBound() int
}

// Port connects a layer to its neighbours and to the stack's injected
// environment.
type Port struct {
	s    *Stack
	i    int
	name string
}

// Up passes ev to the layer above.
func (p *Port) Up(ev *Event) { p.s.up(p.i+1, ev) }

// Down passes ev to the layer below.
func (p *Port) Down(ev *Event) { p.s.down(p.i-1, ev) }

// Now is the stack's current time, as last given to Tick.
func (p *Port) Now() time.Duration { return p.s.now }

// Rand is the stack's seeded random source.
func (p *Port) Rand() *rand.Rand { return p.s.rand }

// View describes the group this stack belongs to.
func (p *Port) View() *View { return &p.s.cfg.View }

// Config is the stack's configuration.
func (p *Port) Config() *Config { return &p.s.cfg }

// NewEvent returns a zeroed event from the stack's pool. Events passed to
// other layers escape to the heap, so layers that create events take them
// from here and give them back with FreeEvent once the call that passed them
// on has returned.
func (p *Port) NewEvent(t Type, peer int) *Event { return p.s.newEvent(t, peer) }

// Buffer returns an empty buffer from the stack's pool of packet buffers,
// with room for a datagram of MaxDatagram bytes, for a layer that writes
// its datagrams whole (encrypt seals into it). Passed down as the body of
// a message, from its first byte, it becomes the packet itself: the stack
// writes the headers pushed on the message (the bottom layer's) into room
// it keeps in front of the buffer, and copies nothing else. The layer
// gives the buffer up when it passes it down, as with any body.
//
// The stack recognises only the buffer it lent last: one passed down
// after the next call to Buffer, or grown by an append past its capacity,
// is sent as any other body, by copy.
func (p *Port) Buffer() []byte { return p.s.lend() }

// FreeEvent returns ev to the pool. Nothing may use it afterwards.
func (p *Port) FreeEvent(ev *Event) { p.s.freeEvent(ev) }

// Drop counts input the layer refused, under reason: malformed, out of
// window, over a bound or otherwise hostile. The datagram it came in is then
// not accepted (see Stack.Receive).
func (p *Port) Drop(reason string) {
	p.s.hostile++
	p.s.count(p.name, "drop."+reason, 1)
}

// Ignore counts input the layer discarded as harmless, under reason: a
// duplicate or replay of something already held, or a late message the
// protocol no longer needs. Unlike Drop, it leaves the datagram accepted.
func (p *Port) Ignore(reason string) { p.s.count(p.name, "drop."+reason, 1) }

// Count adds delta to the layer's counter name.
func (p *Port) Count(name string, delta uint64) { p.s.count(p.name, name, delta) }
