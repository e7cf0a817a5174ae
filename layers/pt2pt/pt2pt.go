// Package pt2pt is reliable FIFO point-to-point messaging with a sliding
// window per destination.
//
// Each member keeps, for every other member, an outgoing stream (sequence
// numbers, messages kept until acknowledged) and an incoming one (delivered
// in order, early arrivals held). Receivers acknowledge cumulatively every
// AckEvery messages and on a timer, and ask for gaps at once with a NAK; a
// sender whose oldest unacknowledged message has waited Timeout sends it
// again, which recovers losses at the tail of a stream. At most Window
// messages per destination are unacknowledged; more wait in a queue that the
// driver sees as backlog. A send to oneself is delivered locally.
//
// Hostile input. A receiver accepts from each peer only sequence numbers
// below the lowest it still holds plus 2×Window (the receive window; the
// peer never has more than Window unacknowledged); others are dropped as
// "window". An ACK beyond what was sent is malformed. NAKs are answered
// with each message at most once per NakInterval and at most RetransBudget
// messages per NakInterval per peer, however many arrive.
//
// Refusals. A receiver takes the first copy of each sequence number and
// drops later ones as duplicates, so an insider's copy in a peer's name
// that arrives first would keep the real message out. The layer above,
// which opens each message (private), refuses one that does not open with
// ERefuseSend, in the same call that delivered it: the layer then forgets
// it and what it holds after it, and asks the peer again at once and on
// the timer, as for a gap. Delivered messages are acknowledged only after
// that call returns, so the peer still holds the message. A refusal of any
// number but the one going up changes nothing ("refusals_ignored").
//
// Memory per member, stated: for each peer an incoming ring of at most
// 2×Window slots, shrinking back within two TrimIntervals once emptied, whose messages
// are released as soon as delivered (so at most 2×Window out-of-order
// messages of at most MaxDatagram bytes), and a seqlog.Served record. The
// outgoing rings hold this member's own sends, bounded by Window and the
// driver's backlog, not by the network.
//
// Headers:
//
//	ESend       seq uvarint
//	ESendUnrel  marker byte: 0 (another layer's), or
//	            1 ACK      next expected seq uvarint
//	            2 NAK      runs uvarint, then per run: first seq, count
//	                       (as in mnak)
//	            3 RETRANS  seq uvarint, then the message
package pt2pt

import (
	"time"

	"github.com/conclave-go/conclave/internal/queue"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/internal/seqlog"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	Window      uint64        // unacknowledged messages per destination
	AckEvery    uint64        // acknowledge after this many deliveries
	AckInterval time.Duration // acknowledge pending deliveries this often
	NakInterval time.Duration // ask again for a gap this often
	Timeout     time.Duration // resend the oldest unacknowledged message after
	MaxNakRange uint64
	// RetransBudget bounds the messages retransmitted to one peer per
	// NakInterval in answer to its NAKs.
	RetransBudget int
}

// Defaults.
const (
	DefaultWindow      = 1024
	DefaultAckEvery    = 128
	DefaultAckInterval = 2 * time.Millisecond
	DefaultNakInterval = 4 * time.Millisecond
	DefaultTimeout     = 10 * time.Millisecond
	DefaultMaxNakRange = 256
	// DefaultRetransBudget is two full NAKs' worth.
	DefaultRetransBudget = 2 * DefaultMaxNakRange
)

const (
	markPass    = 0
	markAck     = 1
	markNak     = 2
	markRetrans = 3
)

type peer struct {
	out      seqlog.Log                // messages sent to the peer, until acknowledged
	queue    queue.Queue[layers.Event] // waiting for the window
	progress time.Duration             // when the peer last acknowledged something new
	in       seqlog.Log                // messages from the peer
	acked    uint64                    // what was last acknowledged to the peer
	ackDue   bool                      // a duplicate arrived: the peer needs an ack
	lastAck  time.Duration
	lastNak  time.Duration
	served   seqlog.Served // NAK answers to the peer
}

// Layer is the point-to-point layer.
type Layer struct {
	cfg     Config
	p       *layers.Port
	rank    int
	trimmed time.Duration // when the logs were last trimmed
	peers   []peer        // by rank; nil until the view's first point-to-point traffic (see at)
	n       int           // members in the view
	runs    []seqlog.Run
	nakBuf  []byte
}

// maxNakRuns bounds the runs of missing messages one NAK names.
const maxNakRuns = 32

// New returns a point-to-point layer.
func New(cfg Config) *Layer {
	def := func(v *uint64, d uint64) {
		if *v == 0 {
			*v = d
		}
	}
	defT := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	def(&cfg.Window, DefaultWindow)
	def(&cfg.AckEvery, DefaultAckEvery)
	def(&cfg.MaxNakRange, DefaultMaxNakRange)
	if cfg.RetransBudget == 0 {
		cfg.RetransBudget = DefaultRetransBudget
	}
	defT(&cfg.AckInterval, DefaultAckInterval)
	defT(&cfg.NakInterval, DefaultNakInterval)
	defT(&cfg.Timeout, DefaultTimeout)
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "pt2pt" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank = p.View().Rank
	l.n = p.View().N
}

// at returns the state kept for member i. Most views carry no
// point-to-point traffic at all, and a stack is built at every view
// change: every member's state is allocated at the first need of any.
func (l *Layer) at(i int) *peer {
	if l.peers == nil {
		l.peers = make([]peer, l.n)
	}
	return &l.peers[i]
}

// Backlog is the number of messages waiting for a window to open.
func (l *Layer) Backlog() int {
	n := 0
	for i := range l.peers {
		n += l.peers[i].queue.Len()
	}
	return n
}

func (l *Layer) Down(ev *layers.Event) {
	switch ev.Type {
	case layers.ESend:
		if ev.Peer == l.rank {
			ev.Type = layers.ESend
			l.p.Up(ev)
			return
		}
		pe := l.at(ev.Peer)
		if pe.queue.Len() > 0 || pe.out.Next()-pe.out.Low() >= l.cfg.Window {
			*pe.queue.Slot() = *ev
			return
		}
		l.send(pe, ev)
	case layers.ESendUnrel:
		ev.Msg.PushByte(markPass)
		l.p.Down(ev)
	case layers.ERefuseSend:
		l.refuse(ev.Peer, ev.Seq)
	default:
		l.p.Down(ev)
	}
}

// refuse forgets the message seq from peer, which the layer above (private)
// refused as it went up: it did not open, so it is not what the peer sent
// (an insider's copy took its place, and the real one was taken here as a
// duplicate). Along with what is held after it, it is asked for again at
// once, as for a gap; the peer still holds it, since this member
// acknowledges only what it has delivered after the call that delivered
// it returned. A refusal of anything but the message going up changes
// nothing ("refusals_ignored").
func (l *Layer) refuse(peer int, seq uint64) {
	if peer < 0 || peer >= l.n || peer == l.rank {
		l.p.Count("refusals_ignored", 1)
		return
	}
	pe := l.at(peer)
	delivered := pe.in.Next()
	if !pe.in.Forget(seq) {
		l.p.Count("refusals_ignored", 1)
		return
	}
	l.p.Count("refused", 1)
	l.p.Count("refetch", delivered-seq)
	l.nak(peer)
}

func (l *Layer) send(pe *peer, ev *layers.Event) {
	if pe.out.Next() == pe.out.Low() {
		pe.progress = l.p.Now()
	}
	seq := pe.out.Append(&ev.Msg)
	var a [10]byte
	ev.Msg.Push(wire.AppendUvarint(a[:0], seq))
	l.p.Down(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	switch ev.Type {
	case layers.ESend:
		r := ev.Msg.Reader()
		seq := r.Uvarint()
		if r.Err() != nil || r.Len() == 0 {
			l.p.Drop("malformed")
			return
		}
		ev.Msg.ConsumeRead(&r)
		l.receive(ev.Peer, seq, &ev.Msg)
	case layers.ESendUnrel:
		l.control(ev)
	default:
		l.p.Up(ev)
	}
}

func (l *Layer) control(ev *layers.Event) {
	pe := l.at(ev.Peer)
	r := ev.Msg.Reader()
	switch r.Byte() {
	case markPass:
		ev.Msg.ConsumeRead(&r)
		l.p.Up(ev)
	case markAck:
		next := r.Uvarint()
		if r.Done() != nil || next > pe.out.Next() {
			l.p.Drop("malformed")
			return
		}
		l.acknowledged(ev.Peer, next)
	case markNak:
		runs, ok := seqlog.ParseRuns(&r, l.runs[:0], maxNakRuns, l.cfg.MaxNakRange)
		l.runs = runs[:0]
		if !ok {
			l.p.Drop("malformed")
			return
		}
		for _, run := range runs {
			// ParseRuns made sure First+Count does not wrap.
			for seq := run.First; seq < run.First+run.Count; seq++ {
				if !l.answer(ev.Peer, seq) {
					break
				}
			}
		}
	case markRetrans:
		seq := r.Uvarint()
		if r.Err() != nil || r.Len() == 0 {
			l.p.Drop("malformed")
			return
		}
		ev.Msg.ConsumeRead(&r)
		l.receive(ev.Peer, seq, &ev.Msg)
	default:
		l.p.Drop("malformed")
	}
}

func (l *Layer) receive(from int, seq uint64, m *layers.Message) {
	pe := l.at(from)
	gapBefore := pe.in.Missing()
	switch pe.in.Put(seq, m, int(2*l.cfg.Window)) {
	case seqlog.Duplicate:
		l.p.Count("duplicates", 1)
		pe.ackDue = true
		return
	case seqlog.Full:
		l.p.Drop("window")
		return
	}
	if !gapBefore && seq > pe.in.Next() {
		l.nak(from)
	}
	for pe.in.Deliverable() {
		ev := l.p.NewEvent(layers.ESend, from)
		ev.Msg = pe.in.Pop()
		l.p.Up(ev)
		l.p.FreeEvent(ev)
		// Delivered messages need not be kept: the sender retransmits.
		// Kept while going up, so that the layer above can refuse it
		// (refuse), which sets Next back.
		pe.in.Release(pe.in.Next())
	}
	if pe.in.Next()-pe.acked >= l.cfg.AckEvery {
		l.ack(from)
	}
}

func (l *Layer) ack(to int) {
	pe := l.at(to)
	pe.acked, pe.ackDue, pe.lastAck = pe.in.Next(), false, l.p.Now()
	var a [12]byte
	h := wire.AppendUvarint(append(a[:0], markAck), pe.acked)
	ev := l.p.NewEvent(layers.ESendUnrel, to)
	ev.Msg.Push(h)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

func (l *Layer) nak(to int) {
	pe := l.at(to)
	l.runs = pe.in.Gaps(l.runs[:0], maxNakRuns, l.cfg.MaxNakRange)
	if len(l.runs) == 0 {
		return
	}
	pe.lastNak = l.p.Now()
	b := seqlog.AppendRuns(append(l.nakBuf[:0], markNak), l.runs)
	l.nakBuf = b
	ev := l.p.NewEvent(layers.ESendUnrel, to)
	ev.Msg.Body = b
	l.p.Count("naks_sent", 1)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// answer resends seq to a peer that asked for it, within the peer's
// retransmission budget. It reports false once the budget is spent.
func (l *Layer) answer(to int, seq uint64) bool {
	pe := l.at(to)
	if _, ok := pe.out.Get(seq); !ok {
		return true
	}
	switch pe.served.Allow(l.p.Now(), l.cfg.NakInterval, l.cfg.RetransBudget, 0, seq) {
	case seqlog.Repeated:
		l.p.Count("retrans_repeats_refused", 1)
		return true
	case seqlog.OverBudget:
		l.p.Count("retrans_over_budget", 1)
		return false
	}
	l.resend(to, seq)
	return true
}

func (l *Layer) resend(to int, seq uint64) {
	m, ok := l.at(to).out.Get(seq)
	if !ok {
		return
	}
	ev := l.p.NewEvent(layers.ESendUnrel, to)
	ev.Msg = *m
	var a [12]byte
	ev.Msg.Push(wire.AppendUvarint(append(a[:0], markRetrans), seq))
	l.p.Count("retransmitted", 1)
	l.p.Count("retransmitted_bytes", uint64(ev.Msg.Len()))
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// acknowledged releases what peer has acknowledged and sends what now fits.
func (l *Layer) acknowledged(to int, next uint64) {
	pe := l.at(to)
	if next > pe.out.Low() {
		pe.out.Release(next)
		pe.progress = l.p.Now()
	}
	for pe.queue.Len() > 0 && pe.out.Next()-pe.out.Low() < l.cfg.Window {
		ev := l.p.NewEvent(0, 0)
		*ev = *pe.queue.Front()
		pe.queue.Discard()
		l.send(pe, ev)
		l.p.FreeEvent(ev)
	}
}

// TrimInterval is how often the layer gives back ring memory a burst, or a
// hostile message at the window's edge, left unused (seqlog.Log.Trim).
const TrimInterval = 100 * time.Millisecond

func (l *Layer) Tick(now time.Duration) {
	if now-l.trimmed >= TrimInterval {
		l.trimmed = now
		for i := range l.peers {
			l.peers[i].in.Trim()
			l.peers[i].out.Trim()
		}
	}
	for to := range l.peers {
		if to == l.rank {
			continue
		}
		pe := &l.peers[to]
		if (pe.ackDue || pe.in.Next() > pe.acked) && now-pe.lastAck >= l.cfg.AckInterval {
			l.ack(to)
		}
		if pe.in.Missing() && now-pe.lastNak >= l.cfg.NakInterval {
			l.nak(to)
		}
		if pe.out.Next() > pe.out.Low() && now-pe.progress >= l.cfg.Timeout {
			// Nothing acknowledged for a while: the tail may be lost.
			pe.progress = now
			l.p.Count("timeouts", 1)
			l.resend(to, pe.out.Low())
		}
	}
}

var _ layers.Acknowledger = (*Layer)(nil)

// Unacknowledged reports whether some message to peer, sent or queued, has
// not been acknowledged yet.
func (l *Layer) Unacknowledged(peer int) bool {
	if l.peers == nil {
		return false
	}
	pe := &l.peers[peer]
	return pe.queue.Len() > 0 || pe.out.Next() > pe.out.Low()
}

// Footprint is the bytes held for messages from peers and for answering
// their NAKs (see the package documentation).
func (l *Layer) Footprint() int {
	n := 0
	for i := range l.peers {
		n += l.peers[i].in.Footprint() + l.peers[i].served.Footprint()
	}
	return n
}

// FootprintBound is the stated bound on Footprint.
func (l *Layer) FootprintBound() int {
	return l.n * (seqlog.FootprintBound(int(2*l.cfg.Window), l.p.Config().MaxDatagram) + seqlog.ServedSize)
}
