// Package mflow is multicast flow control: a sender may have at most Window
// of its multicasts (and WindowBytes of their bytes) that are not yet stable,
// that is, not yet delivered by every member.
//
// Messages beyond the window wait here, in order, and go out as stability
// reports arrive. The driver sees the queue through Backlog and stops
// accepting new messages from the application while it is long, so neither
// the sender's memory nor any receiver's grows without bound however slow
// the slowest member is. No header.
package mflow

import (
	"time"

	"github.com/conclave-go/conclave/internal/queue"
	"github.com/conclave-go/conclave/layers"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	Window      uint64 // messages
	WindowBytes uint64
}

// Defaults. Window must stay below mnak's MaxHeld.
const (
	DefaultWindow      = 4096
	DefaultWindowBytes = 8 << 20
)

// initialRing is the ring's length when a stack starts. A stack is built at
// every view change and most views see few multicasts in flight at once, so
// the ring starts small and doubles as the window fills, up to the window's
// size rounded up to a power of two.
const initialRing = 64

// Layer is the multicast flow control layer.
type Layer struct {
	cfg     Config
	p       *layers.Port
	rank    int
	sent    uint64                    // multicasts passed down
	stable  uint64                    // of them, delivered everywhere
	sizes   []uint64                  // ring: byte size of unstable message seq, at seq % len
	inBytes uint64                    // bytes in flight
	pending queue.Queue[layers.Event] // casts waiting for the window
}

// New returns a flow control layer.
func New(cfg Config) *Layer {
	if cfg.Window == 0 {
		cfg.Window = DefaultWindow
	}
	if cfg.WindowBytes == 0 {
		cfg.WindowBytes = DefaultWindowBytes
	}
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "mflow" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank = p.View().Rank
	n := uint64(1)
	for n < l.cfg.Window {
		n *= 2
	}
	l.sizes = make([]uint64, min(n, initialRing))
}

// grow doubles the ring. Message seq sits at seq % len, which changes with
// len, so the messages in flight move to their places in the longer ring.
func (l *Layer) grow() {
	sizes := make([]uint64, 2*len(l.sizes))
	old, n := uint64(len(l.sizes)), uint64(len(sizes))
	for seq := l.stable; seq < l.sent; seq++ {
		sizes[seq%n] = l.sizes[seq%old]
	}
	l.sizes = sizes
}

// Backlog is the number of multicasts waiting for the window to open.
func (l *Layer) Backlog() int { return l.pending.Len() }

func (l *Layer) open(size uint64) bool {
	inFlight := l.sent - l.stable
	if inFlight == 0 {
		return true // a single message larger than the byte window still goes
	}
	return inFlight < l.cfg.Window && l.inBytes+size <= l.cfg.WindowBytes
}

func (l *Layer) Down(ev *layers.Event) {
	if ev.Type != layers.ECast {
		l.p.Down(ev)
		return
	}
	if l.Backlog() > 0 || !l.open(uint64(ev.Msg.Len())) {
		*l.pending.Slot() = *ev
		return
	}
	l.send(ev)
}

func (l *Layer) send(ev *layers.Event) {
	size := uint64(ev.Msg.Len())
	// open keeps the messages in flight below Window, so a full ring is
	// never yet the longest, Window rounded up to a power of two.
	if l.sent-l.stable == uint64(len(l.sizes)) {
		l.grow()
	}
	l.sizes[l.sent%uint64(len(l.sizes))] = size
	l.sent++
	l.inBytes += size
	l.p.Down(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Type == layers.EStable {
		l.advance(ev.Stability.Stable[l.rank])
	}
	l.p.Up(ev)
}

// advance records that the first stable own multicasts are everywhere and
// sends what now fits in the window.
func (l *Layer) advance(stable uint64) {
	for ; l.stable < min(stable, l.sent); l.stable++ {
		l.inBytes -= l.sizes[l.stable%uint64(len(l.sizes))]
	}
	for l.Backlog() > 0 && l.open(uint64(l.pending.Front().Msg.Len())) {
		ev := l.p.NewEvent(0, 0)
		*ev = *l.pending.Front()
		l.pending.Discard()
		l.send(ev)
		l.p.FreeEvent(ev)
	}
}

func (l *Layer) Tick(now time.Duration) {}
