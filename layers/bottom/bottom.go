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
}

// New returns a bottom layer.
func New() *Layer { return &Layer{} }

func (l *Layer) Name() string           { return "bottom" }
func (l *Layer) Init(p *layers.Port)    { l.p = p }
func (l *Layer) Tick(now time.Duration) {}

func (l *Layer) Down(ev *layers.Event) {
	if !ev.Type.IsData() {
		return
	}
	v := l.p.View()
	var a [MaxHeader]byte
	h := append(a[:0], Version)
	h = wire.AppendUint64(h, v.Group)
	h = wire.AppendUvarint(h, v.ID)
	h = wire.AppendUvarint(h, uint64(v.Rank))
	h = append(h, byte(ev.Type))
	ev.Msg.Push(h)
	l.p.Down(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Msg.Len() > l.p.Config().MaxDatagram {
		l.p.Drop("too_large")
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
