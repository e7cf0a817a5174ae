// Package frag splits messages too large for one datagram into fragments
// and reassembles them.
//
// It sits above the reliable layers, so each fragment is itself a reliable
// FIFO message: fragments of one message arrive in order and uninterleaved
// with other messages of the same stream (a sender's multicasts, or its
// sends to this member), and reassembly needs no fragment numbers.
//
// Header on ECast and ESend, one of:
//
//	0  whole message
//	1  first fragment: total length uvarint (≤ MaxMessage)
//	2  next fragment
//
// A message is complete when its fragments add up to the total length.
//
// Hostile input. A first fragment's claimed total is checked against
// MaxMessage before anything else, and reserves nothing: the buffer grows
// as fragments arrive, never beyond the claimed total. There is at most one
// reassembly per sender and kind (multicast, point-to-point), so at most
// 2·N at once; one that has not progressed for Timeout is abandoned and
// counted ("reassembly_timeouts"), so a sender that stops halfway does not
// pin its bytes for the rest of the view. Memory per member, stated: at
// most 2·N·MaxMessage bytes of reassembly buffers.
package frag

import (
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

const (
	tagWhole = 0
	tagFirst = 1
	tagNext  = 2
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// Timeout abandons a reassembly that has not progressed for this long.
	Timeout time.Duration
}

// DefaultTimeout is Timeout when left zero: long enough for a correct
// sender's fragments to make their way through any loss the reliable
// layers recover from.
const DefaultTimeout = 30 * time.Second

type assembly struct {
	buf   []byte
	total int
	busy  bool
	last  time.Duration // when a fragment last arrived
}

// Layer is the fragmentation layer.
type Layer struct {
	cfg     Config
	p       *layers.Port
	maxFrag int        // largest fragment body
	casts   []assembly // per origin
	sends   []assembly // per origin
}

// New returns a fragmentation layer.
func New(cfg Config) *Layer {
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "frag" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	// The lower layers' headers fit in the message head room, except the
	// security layers' tags and signatures, which say how much they add.
	l.maxFrag = p.Config().MaxDatagram - layers.HeadRoom - p.Below()
	n := p.View().N
	as := make([]assembly, 2*n) // one allocation: a stack is built at every view change
	l.casts, l.sends = as[:n:n], as[n:]
}

// MaxFragment is the largest fragment body this layer emits.
func (l *Layer) MaxFragment() int { return l.maxFrag }

func (l *Layer) Tick(now time.Duration) {
	for _, all := range [2][]assembly{l.casts, l.sends} {
		for i := range all {
			if as := &all[i]; as.busy && now-as.last >= l.cfg.Timeout {
				*as = assembly{}
				l.p.Count("reassembly_timeouts", 1)
			}
		}
	}
}

func (l *Layer) Down(ev *layers.Event) {
	if ev.Type != layers.ECast && ev.Type != layers.ESend {
		l.p.Down(ev)
		return
	}
	body := ev.Msg.Bytes()
	if len(body) > l.p.Config().MaxMessage {
		l.p.Drop("too_large")
		return
	}
	if len(body) <= l.maxFrag {
		ev.Msg = layers.NewMessage(body)
		ev.Msg.PushByte(tagWhole)
		l.p.Down(ev)
		return
	}
	l.p.Count("fragmented", 1)
	var a [12]byte
	for off := 0; off < len(body); off += l.maxFrag {
		f := l.p.NewEvent(ev.Type, ev.Peer)
		f.Msg.Body = body[off:min(off+l.maxFrag, len(body))]
		if off == 0 {
			f.Msg.Push(wire.AppendUvarint(append(a[:0], tagFirst), uint64(len(body))))
		} else {
			f.Msg.PushByte(tagNext)
		}
		l.p.Down(f)
		l.p.FreeEvent(f)
	}
}

func (l *Layer) Up(ev *layers.Event) {
	var as *assembly
	switch ev.Type {
	case layers.ECast:
		as = &l.casts[ev.Peer]
	case layers.ESend:
		as = &l.sends[ev.Peer]
	default:
		l.p.Up(ev)
		return
	}
	r := ev.Msg.Reader()
	switch r.Byte() {
	case tagWhole:
		if as.busy {
			l.abandon(as)
		}
		ev.Msg.ConsumeRead(&r)
		l.p.Up(ev)
	case tagFirst:
		total := r.UvarintMax(uint64(l.p.Config().MaxMessage))
		if r.Err() != nil || int(total) <= r.Len() {
			l.p.Drop("malformed")
			return
		}
		if as.busy {
			l.abandon(as)
		}
		ev.Msg.ConsumeRead(&r)
		*as = assembly{total: int(total), busy: true, last: l.p.Now()}
		as.add(&ev.Msg)
	case tagNext:
		if r.Err() != nil || !as.busy {
			l.p.Drop("orphan_fragment")
			return
		}
		ev.Msg.ConsumeRead(&r)
		if len(as.buf)+ev.Msg.Len() > as.total {
			l.abandon(as)
			l.p.Drop("malformed")
			return
		}
		as.add(&ev.Msg)
		as.last = l.p.Now()
		if len(as.buf) == as.total {
			out := l.p.NewEvent(ev.Type, ev.Peer)
			out.Msg.Body = as.buf
			*as = assembly{}
			l.p.Count("reassembled", 1)
			l.p.Up(out)
			l.p.FreeEvent(out)
		}
	default:
		l.p.Drop("malformed")
	}
}

// abandon drops a half-assembled message. Reliable FIFO delivery below makes
// this impossible from a correct sender.
func (l *Layer) abandon(as *assembly) {
	*as = assembly{}
	l.p.Drop("incomplete")
}

// add appends a fragment, whose length the caller has checked against the
// total, growing the buffer by doubling but never past the total.
func (as *assembly) add(m *layers.Message) {
	if need := len(as.buf) + m.Len(); need > cap(as.buf) {
		buf := make([]byte, len(as.buf), min(as.total, max(need, 2*cap(as.buf))))
		copy(buf, as.buf)
		as.buf = buf
	}
	as.buf = m.AppendTo(as.buf)
}

// Footprint is the bytes of the reassembly buffers.
func (l *Layer) Footprint() int {
	n := 0
	for i := range l.casts {
		n += cap(l.casts[i].buf) + cap(l.sends[i].buf)
	}
	return n
}

// FootprintBound is the stated bound: a buffer of at most MaxMessage bytes
// per sender and kind.
func (l *Layer) FootprintBound() int { return 2 * len(l.casts) * l.p.Config().MaxMessage }
