// Package bottom is the lowest layer of a stack: the adapter to the
// transport. It frames every datagram with the header that says which
// protocol version, group, view and sender it belongs to, and drops, before
// any other layer sees them, datagrams that are malformed or meant for
// someone else. A datagram longer than the stack's MaxDatagram is dropped
// whole ("too_large") before it is parsed: no correct member sends one, and
// every bound the layers above state assumes it (a bundle's frame count,
// for one).
//
// Header, in wire order:
//
//	version  byte     (1)
//	group    uint64   big endian
//	view     uvarint
//	sender   uvarint  rank in the view
//	type     byte     layers.Type of the payload: ECast … ESendUnrel, EBundle
package bottom

import (
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// Version is the wire format version this layer speaks.
const Version = 1

// MaxHeader bounds the header's length.
const MaxHeader = 1 + 8 + 10 + 10 + 1

// Layer is the bottom layer. The zero value is ready to use.
type Layer struct {
	p *layers.Port
	// hdr is this member's header but the type, a byte at the end that
	// Down sets; its first view bytes (version, group and view) are the
	// front of every datagram of the view.
	hdr  []byte
	view int
}

// New returns a bottom layer.
func New() *Layer { return &Layer{} }

func (l *Layer) Name() string           { return "bottom" }
func (l *Layer) Tick(now time.Duration) {}

// Init lays out the header, the same for every datagram of the view but
// its type.
func (l *Layer) Init(p *layers.Port) {
	l.p = p
	v := p.View()
	h := make([]byte, 0, MaxHeader)
	h = append(h, Version)
	h = wire.AppendUint64(h, v.Group)
	h = wire.AppendUvarint(h, v.ID)
	l.view = len(h)
	h = wire.AppendUvarint(h, uint64(v.Rank))
	l.hdr = append(h, 0)
}

func (l *Layer) Down(ev *layers.Event) {
	if !ev.Type.IsData() {
		return
	}
	l.hdr[len(l.hdr)-1] = byte(ev.Type)
	ev.Msg.Push(l.hdr)
	l.p.Down(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Msg.Len() > l.p.Config().MaxDatagram {
		l.p.Drop("too_large")
		return
	}
	if sender, t, ok := l.ours(ev.Msg.Front()); ok {
		ev.Msg.Consume(l.view + 2)
		ev.Type, ev.Peer = t, sender
		l.p.Up(ev)
		return
	}
	h, err := Parse(ev.Msg.Front())
	if err != nil {
		l.p.Drop("malformed")
		return
	}
	v := l.p.View()
	switch {
	case h.Group != v.Group:
		l.p.Drop("other_group")
		return
	case h.View != v.ID:
		l.p.Drop("other_view")
		return
	case h.Sender >= uint64(v.N) || int(h.Sender) == v.Rank:
		l.p.Drop("bad_sender")
		return
	}
	ev.Msg.Consume(h.Len)
	ev.Type = h.Type
	ev.Peer = int(h.Sender)
	l.p.Up(ev)
}

// ours reads the common datagram without Parse: this view's version,
// group and view, byte for byte as Init wrote them (a minimal encoding,
// so that Parse would read the same values from them), then another
// member's rank below 128 (a byte), a data type and at least a byte of
// payload. ok is false for anything else, which Parse then judges: ours
// accepts only what Parse and the checks after it accept, with the same
// sender and type.
func (l *Layer) ours(b []byte) (sender int, t layers.Type, ok bool) {
	k := l.view
	if len(b) <= k+2 || string(b[:k]) != string(l.hdr[:k]) {
		return 0, 0, false
	}
	v := l.p.View()
	s, t := b[k], layers.Type(b[k+1])
	if s >= 0x80 || int(s) >= v.N || int(s) == v.Rank || !t.IsData() {
		return 0, 0, false
	}
	return int(s), t, true
}

// Datagram reads the view and sender a datagram names (layers.Framer),
// without checking them against this stack's view.
func (l *Layer) Datagram(data []byte) (view uint64, sender int, ok bool) {
	h, err := Parse(data)
	if err != nil {
		return 0, 0, false
	}
	return h.View, int(h.Sender), true
}

var _ layers.Framer = (*Layer)(nil)

// Header is a parsed datagram header.
type Header struct {
	Group  uint64
	View   uint64
	Sender uint64
	Type   layers.Type
	Len    int // bytes the header occupies
}

// Parse reads the header at the front of b. It rejects unknown versions and
// types, non-minimal varints and a datagram with no payload.
func Parse(b []byte) (Header, error) {
	r := wire.NewReader(b)
	if r.Byte() != Version {
		return Header{}, errVersion
	}
	h := Header{
		Group:  r.Uint64(),
		View:   r.Uvarint(),
		Sender: r.UvarintMax(1 << 31),
		Type:   layers.Type(r.Byte()),
	}
	if err := r.Err(); err != nil {
		return Header{}, err
	}
	if !h.Type.IsData() {
		return Header{}, wire.ErrBadTag
	}
	if r.Len() == 0 {
		return Header{}, wire.ErrShort
	}
	h.Len = len(b) - r.Len()
	return h, nil
}
