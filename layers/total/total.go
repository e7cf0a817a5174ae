package total

import (
	"time"
	"unsafe"

	"github.com/conclave-go/conclave/internal/queue"
	"github.com/conclave-go/conclave/layers"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// MaxBatch bounds the casts one ORDER message names: the sequencer
	// sends its batch when it reaches this many, or fills a datagram, or
	// sees an EFlush. At most MaxOrderCount.
	MaxBatch int
	// MaxQueued bounds the casts named by ORDER runs that wait for their
	// casts to arrive; an ORDER that would exceed it is dropped. Zero
	// means QueuedPerOrigin times the view size. Honest ORDERs name
	// only casts within the senders' flow control windows, far fewer.
	MaxQueued int
}

// QueuedPerOrigin is the default MaxQueued per member of the view: the
// reliable multicast layer's default receive window.
const QueuedPerOrigin = 1 << 13

// DefaultMaxBatch is MaxBatch when left zero.
const DefaultMaxBatch = 256

// Sequencer is the rank that orders the view's multicasts.
const Sequencer = 0

// Header tags on ECast.
const (
	tagData  = 0
	tagOrder = 1
)

// sentOrder is one of the sequencer's ORDER messages that may still be
// retransmitted: its number in the sequencer's multicast stream and its
// body, which the reliable multicast layer holds until it is stable.
type sentOrder struct {
	seq uint64
	buf []byte
}

// maxHeldHead bounds the headers kept apart from the body of a held cast.
const maxHeldHead = 23

// heldCast is a cast waiting for its ORDER, kept smaller than a Message:
// its body, and the headers the layers above pushed, which at the sender
// are still in the message's head (a received message has them all in its
// body). Headers longer than maxHeldHead (fragmentation pushes at most 11
// bytes) are flattened into a new body.
type heldCast struct {
	body []byte
	hn   uint8
	head [maxHeldHead]byte
}

func (h *heldCast) hold(m *layers.Message) {
	head := m.Head()
	if len(head) > maxHeldHead {
		h.body, h.hn = m.Bytes(), 0
		return
	}
	h.body, h.hn = m.Body, uint8(copy(h.head[:], head))
}

// take moves the cast into m, an empty message, leaving h with no
// reference to it.
func (h *heldCast) take(m *layers.Message) {
	m.Body, h.body = h.body, nil
	if h.hn > 0 {
		m.Push(h.head[:h.hn])
	}
}

// Layer is the total order layer.
type Layer struct {
	cfg  Config
	p    *layers.Port
	rank int
	n    int

	held     []queue.Queue[heldCast] // per origin: casts waiting for an ORDER
	order    queue.Queue[Run]        // received ORDER runs not yet applied
	queued   int                     // casts the runs in order name
	maxQueue int                     // bound on queued
	scratch  []Run                   // ParseOrder's output, reused
	applying bool                    // apply is running further up the call stack
	ended    bool                    // EViewEnd has passed

	// Sequencer only.
	sequencer    bool
	blocked      bool // Block was called: no more ORDERs in this view
	batch        []Run
	batched      int // casts named in batch
	maxRuns      int // runs that fit one datagram
	sent         uint64
	unstable     queue.Queue[sentOrder] // ORDERs not yet stable, by seq
	ordersStable uint64                 // ORDERs below the last stability report
	free         [][]byte               // ORDER bodies to reuse
	bufSize      int
	stab         layers.Stability // the report passed up, data casts only
}

// New returns a total order layer.
func New(cfg Config) *Layer {
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	cfg.MaxBatch = min(cfg.MaxBatch, MaxOrderCount)
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "total" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank, l.n = p.View().Rank, p.View().N
	l.held = make([]queue.Queue[heldCast], l.n)
	l.maxQueue = l.cfg.MaxQueued
	if l.maxQueue <= 0 {
		l.maxQueue = QueuedPerOrigin * l.n
	}
	l.sequencer = l.rank == Sequencer && l.n > 1
	if !l.sequencer {
		return
	}
	// An ORDER is not fragmented (frag is above): it must fit a datagram
	// with the headers of the layers below, which fit the head room.
	l.bufSize = p.Config().MaxDatagram - layers.HeadRoom
	l.maxRuns = max(1, l.bufSize/runLen(l.n))
	l.stab = layers.Stability{Stable: make([]uint64, l.n), MaxSeen: make([]uint64, l.n)}
}

// Block stops the sequencer from ordering for the rest of the view: it sends
// no more ORDER messages, and the casts it has not ordered are delivered at
// the view's end. A view change calls it before it reads the count of
// multicasts the sequencer has sent, so that the count stays final. It does
// nothing at other members.
func (l *Layer) Block() {
	l.blocked = true
	l.batch, l.batched = l.batch[:0], 0
}

var _ layers.Blocker = (*Layer)(nil)

// Held is the number of casts received and not yet delivered, waiting for
// an ORDER.
func (l *Layer) Held() int {
	k := 0
	for i := range l.held {
		k += l.held[i].Len()
	}
	return k
}

func (l *Layer) Down(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
		if l.ended {
			l.p.Drop("after_view_end")
			return
		}
		ev.Msg.PushByte(tagData)
		l.sent++
		l.p.Down(ev)
	case layers.EFlush:
		l.sendOrder()
		l.p.Down(ev)
	case layers.EViewEnd:
		l.endView()
		l.p.Down(ev)
	default:
		l.p.Down(ev)
	}
}

func (l *Layer) Up(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
		l.cast(ev)
	case layers.EStable:
		l.stability(ev)
		l.p.Up(ev)
	default:
		l.p.Up(ev)
	}
}

func (l *Layer) Tick(now time.Duration) {
	// The driver flushes when idle, so a batch rarely waits for a tick;
	// this only bounds the delay under a driver that never does.
	l.sendOrder()
}

// cast handles a multicast delivered by the reliable layer below: in FIFO
// order per origin, exactly once, the same bytes at every member.
func (l *Layer) cast(ev *layers.Event) {
	front := ev.Msg.Front()
	if len(front) == 0 || ev.Peer < 0 || ev.Peer >= l.n {
		l.p.Drop("malformed")
		return
	}
	tag := front[0]
	ev.Msg.Consume(1)
	switch tag {
	case tagData:
		l.data(ev)
	case tagOrder:
		l.receiveOrder(ev)
	default:
		l.p.Drop("malformed")
	}
}

func (l *Layer) data(ev *layers.Event) {
	switch {
	case l.ended:
		l.p.Ignore("after_view_end")
		return
	case l.n == 1:
		// Alone in the view: the order of arrival is the total order.
		l.p.Up(ev)
		return
	}
	origin := ev.Peer
	l.held[origin].Slot().hold(&ev.Msg)
	if l.sequencer && !l.blocked {
		l.record(origin)
	}
	if l.order.Len() > 0 && l.order.Front().Origin == origin {
		l.apply()
	}
}

// receiveOrder queues the runs of an ORDER and applies what it can.
func (l *Layer) receiveOrder(ev *layers.Event) {
	if ev.Peer != Sequencer {
		l.p.Drop("not_sequencer")
		return
	}
	if l.ended {
		l.p.Ignore("after_view_end")
		return
	}
	// The tag was the only pushed header, so this is the body and does
	// not copy.
	runs, err := ParseOrder(ev.Msg.Bytes(), l.n, l.scratch[:0])
	l.scratch = runs[:0]
	if err != nil {
		l.p.Drop("malformed_order")
		return
	}
	named := 0
	for _, run := range runs {
		named += run.Count // at most MaxOrderCount in all
	}
	if named > l.maxQueue-l.queued {
		l.p.Drop("order_queue_full")
		return
	}
	l.queued += named
	for _, run := range runs {
		l.order.Push(run)
	}
	l.apply()
}

// apply delivers held casts in the order of the ORDER runs received, as far
// as the casts they name have arrived. A call made while an outer one is
// delivering returns at once: the outer loop sees the new state.
func (l *Layer) apply() {
	if l.applying {
		return
	}
	l.applying = true
	for l.order.Len() > 0 {
		run := l.order.Front()
		q := &l.held[run.Origin]
		if q.Len() == 0 {
			break // wait: the reliable layer will bring it
		}
		ev := l.p.NewEvent(layers.ECast, run.Origin)
		q.Front().take(&ev.Msg)
		q.Discard()
		l.queued--
		if run.Count--; run.Count == 0 {
			l.order.Discard()
		}
		l.p.Up(ev)
		l.p.FreeEvent(ev)
	}
	l.applying = false
}

// record adds a cast from origin to the sequencer's batch.
func (l *Layer) record(origin int) {
	if k := len(l.batch); k > 0 && l.batch[k-1].Origin == origin {
		l.batch[k-1].Count++
	} else {
		l.batch = append(l.batch, Run{Origin: origin, Count: 1})
	}
	l.batched++
	if l.batched >= l.cfg.MaxBatch || len(l.batch) >= l.maxRuns {
		l.sendOrder()
	}
}

// sendOrder multicasts the sequencer's batch as an ORDER message. Every
// member applies it when the reliable layer delivers it, the sequencer too,
// at once.
func (l *Layer) sendOrder() {
	if len(l.batch) == 0 || l.blocked || l.ended {
		return
	}
	var buf []byte
	if k := len(l.free); k > 0 {
		buf, l.free = l.free[k-1][:0], l.free[:k-1]
	} else {
		buf = make([]byte, 0, l.bufSize)
	}
	buf = AppendOrder(buf, l.batch)
	l.p.Count("orders_sent", 1)
	l.batch, l.batched = l.batch[:0], 0
	// The reliable layer keeps the body for retransmission until it is
	// stable: the buffer is reused only then (see stability).
	l.unstable.Push(sentOrder{seq: l.sent, buf: buf})
	l.sent++
	ev := l.p.NewEvent(layers.ECast, layers.AllPeers)
	ev.Msg.Body = buf
	ev.Msg.PushByte(tagOrder)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// stability frees the ORDER bodies that have become stable and, at the
// sequencer, rewrites its own entries of the report so that the layers
// above (flow control) count only the data multicasts they sent.
func (l *Layer) stability(ev *layers.Event) {
	if !l.sequencer || (l.unstable.Len() == 0 && l.ordersStable == 0) || ev.Stability == nil {
		return
	}
	s := ev.Stability
	stable := s.Stable[l.rank]
	for l.unstable.Len() > 0 && l.unstable.Front().seq < stable {
		o := l.unstable.Front()
		if len(l.free) < 64 {
			l.free = append(l.free, o.buf)
		}
		o.buf = nil
		l.unstable.Discard()
		l.ordersStable++
	}
	seen := s.MaxSeen[l.rank]
	ordersSeen := l.ordersStable
	for i := 0; i < l.unstable.Len() && l.unstable.At(i).seq < seen; i++ {
		ordersSeen++
	}
	copy(l.stab.Stable, s.Stable)
	copy(l.stab.MaxSeen, s.MaxSeen)
	l.stab.Stable[l.rank] = stable - l.ordersStable
	l.stab.MaxSeen[l.rank] = seen - ordersSeen
	ev.Stability = &l.stab
}

// endView delivers every held cast that no ORDER covered, by origin rank
// and then in FIFO order, and forgets the ORDER runs that cannot be applied.
// See the package documentation for why every member that moves to the
// next view delivers the same.
func (l *Layer) endView() {
	if l.ended {
		return
	}
	l.ended, l.applying = true, true
	l.batch, l.batched = l.batch[:0], 0
	if l.order.Len() > 0 {
		l.p.Count("order_runs_unapplied", uint64(l.order.Len()))
		l.order.Reset()
	}
	l.queued = 0
	for origin := range l.held {
		q := &l.held[origin]
		if q.Len() > 0 {
			l.p.Count("delivered_at_view_end", uint64(q.Len()))
		}
		for q.Len() > 0 {
			ev := l.p.NewEvent(layers.ECast, origin)
			q.Front().take(&ev.Msg)
			q.Discard()
			l.p.Up(ev)
			l.p.FreeEvent(ev)
		}
	}
	l.applying = false
}

// Footprint is the bytes of the queue of ORDER runs waiting for their
// casts, the state an ORDER from the network inflates.
func (l *Layer) Footprint() int { return l.order.Cap() * runSize }

// FootprintBound is the stated bound on Footprint: a ring of at most
// MaxQueued runs, rounded up to a power of two.
func (l *Layer) FootprintBound() int {
	n := 8
	for n < l.maxQueue {
		n *= 2
	}
	return n * runSize
}

const runSize = int(unsafe.Sizeof(Run{}))
