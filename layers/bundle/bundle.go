// Package bundle packs small messages bound for the same destination into
// one datagram, and unpacks them on receipt.
//
// Messages are held only until the driver signals that it has no more input
// for now (an EFlush event) or until the next message would not fit, so the
// delay a message sees is bounded by one pass of the driver's loop. Under
// load many messages share a datagram; when idle each goes out at once.
//
// A bundle's body is a sequence of frames, each
//
//	type    byte     layers.Type, ECast … ESendUnrel
//	length  uvarint  1 … MaxDatagram
//	bytes
//
// with at least two frames and nothing after the last.
//
// Hostile input. A frame takes at least three bytes and the bottom layer
// drops datagrams longer than MaxDatagram, so a bundle has fewer than
// MaxDatagram/3 frames, 466 at the default 1400 bytes: MaxFrames states the
// bound and Split enforces it. The frames alias the
// datagram; the layer keeps no state per peer beyond its send buffers
// (one of MaxDatagram bytes for casts and one per destination).
package bundle

import (
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// Layer is the bundling layer.
type Layer struct {
	p     *layers.Port
	limit int       // largest bundle body
	slots []pending // [0] for casts, [1+r] for sends to rank r
	out   []layers.Event
}

type pending struct {
	buf      []byte
	frames   int
	first    layers.Type // type of the first frame
	firstHdr int         // length of the first frame's header
}

// New returns a bundling layer.
func New() *Layer { return &Layer{} }

func (l *Layer) Name() string { return "bundle" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	// Room for the bottom header, and for the headers of the security
	// layers below (encrypt's), which a plain stack does not have.
	l.limit = p.Config().MaxDatagram - bottom.MaxHeader - p.Below()
	l.slots = make([]pending, 1+p.View().N)
}

func (l *Layer) Tick(now time.Duration) {}

func (l *Layer) slot(ev *layers.Event) int {
	if ev.Type.IsCast() {
		return 0
	}
	return 1 + ev.Peer
}

func (l *Layer) Down(ev *layers.Event) {
	switch {
	case ev.Type == layers.EFlush:
		for i := range l.slots {
			l.flush(i)
		}
		l.p.Down(ev)
		return
	case !ev.Type.IsData() || ev.Type == layers.EBundle:
		l.p.Down(ev)
		return
	case !ev.Type.IsCast() && (ev.Peer < 0 || ev.Peer >= len(l.slots)-1):
		l.p.Drop("bad_destination")
		return
	}
	i := l.slot(ev)
	n := ev.Msg.Len()
	hdr := 1 + wire.UvarintLen(uint64(n))
	if hdr+n > l.limit {
		// Too big to share a datagram: keep order by sending what is
		// pending first.
		l.flush(i)
		l.p.Down(ev)
		return
	}
	s := &l.slots[i]
	if len(s.buf)+hdr+n > l.limit {
		l.flush(i)
	}
	if s.frames == 0 {
		if s.buf == nil {
			s.buf = make([]byte, 0, l.limit)
		}
		s.first, s.firstHdr = ev.Type, hdr
	}
	s.buf = append(s.buf, byte(ev.Type))
	s.buf = wire.AppendUvarint(s.buf, uint64(n))
	s.buf = ev.Msg.AppendTo(s.buf)
	s.frames++
}

// flush sends slot i's pending messages: alone as itself, or as a bundle.
func (l *Layer) flush(i int) {
	s := &l.slots[i]
	if s.frames == 0 {
		return
	}
	peer := layers.AllPeers
	if i > 0 {
		peer = i - 1
	}
	ev := l.p.NewEvent(layers.EBundle, peer)
	ev.Msg.Body = s.buf
	if s.frames == 1 {
		ev.Type = s.first
		ev.Msg.Body = s.buf[s.firstHdr:]
	} else {
		l.p.Count("bundles", 1)
		l.p.Count("bundled_msgs", uint64(s.frames))
	}
	s.frames = 0
	// The stack copies the datagram before Down returns, so the buffer is
	// free again.
	s.buf = s.buf[:0]
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Type != layers.EBundle {
		l.p.Up(ev)
		return
	}
	// Check the whole bundle before delivering any of it: a malformed
	// bundle is dropped whole.
	l.out = l.out[:0]
	frames, err := Split(ev.Msg.Front(), ev.Peer, l.out)
	l.out = frames
	if err != nil {
		l.p.Drop("malformed")
		return
	}
	for i := range l.out {
		l.p.Up(&l.out[i])
	}
	clear(l.out)
}

// MaxFrames is the most frames a bundle of a datagram of maxDatagram bytes
// can hold.
func MaxFrames(maxDatagram int) int { return maxDatagram / 3 }

// Split parses a bundle body from peer into events appended to out. The
// events' bodies alias b. A frame takes at least three bytes, so the frames
// are at most len(b)/3 whatever b claims.
func Split(b []byte, peer int, out []layers.Event) ([]layers.Event, error) {
	r := wire.NewReader(b)
	start := len(out)
	for r.Len() > 0 {
		if len(out)-start >= len(b)/3 {
			return out[:start], wire.ErrBadTag
		}
		t := layers.Type(r.Byte())
		n := r.UvarintMax(uint64(len(b)))
		body := r.Bytes(int(n))
		if err := r.Err(); err != nil {
			return out[:start], err
		}
		if t < layers.ECast || t > layers.ESendUnrel || n == 0 {
			return out[:start], wire.ErrBadTag
		}
		out = append(out, layers.Event{Type: t, Peer: peer, Msg: layers.NewMessage(body)})
	}
	if len(out)-start < 2 {
		return out[:start], wire.ErrShort
	}
	return out, nil
}
