// Package mnak is reliable FIFO multicast with negative acknowledgements.
//
// Every multicast carries its sender's sequence number. A receiver delivers
// each sender's messages in order, holds those that arrive early, and asks
// for the missing ones with a NAK to their origin; it retries on a timer
// until the gap is filled. Losses at the tail of a stream, which no later
// message reveals, come to light through the stability layer's MaxSeen.
//
// Every member, not only the origin, keeps each message until the stability
// layer reports that all members have it, so that any holder can answer a
// NAK (and, in a view change, the survivors can make up for a failed
// sender).
//
// Hostile input. A receiver accepts from each origin only sequence numbers
// below the lowest it still holds plus MaxHeld (the receive window); others
// are dropped as "window" and, if real, asked for again once the window has
// moved. How many messages an origin has (a cut, or the stability layer's
// MaxSeen) is believed only up to the same window, so a forged count cannot
// make a member ask for, or wait for, more. A member answers each
// requester's NAKs with each held message at most once per NakInterval and
// with at most RetransBudget messages per NakInterval, however many NAKs it
// gets, so a flood of them costs it at most RetransBudget datagrams per
// interval per requester.
//
// Refusals. mnak takes the first copy of each (origin, seq) it gets and
// drops later ones as duplicates, and every member's key lets it send any
// origin's messages (encrypt proves only that some member sent a
// datagram). So an insider's altered copy that arrives first would keep
// the real message out for good. The layer above that can tell (sign)
// refuses it with ERefuseCast: mnak then forgets that origin's messages
// from the refused number on, delivered or held, so that it no longer
// hands the copy on to a member that asks, sets its delivered count back,
// and asks for them again at once and on the timer, as for a gap; the
// real ones are delivered when they come. A refusal of a number it has
// not delivered, or no longer holds, changes nothing ("refusals_ignored").
// Holders keep the real messages meanwhile: the stability layer sits
// above sign and counts only what sign let through.
//
// Memory per member, stated: for each other origin a ring of at most
// MaxHeld slots (rounded up to a power of two, seqlog.SlotSize bytes each)
// that shrinks back within two TrimIntervals once emptied, holding at most
// MaxHeld messages of at most MaxDatagram bytes; and per requester a
// seqlog.Served record. The member's own multicasts are bounded by flow
// control (mflow) instead.
//
// Headers:
//
//	ECast       seq uvarint
//	ESendUnrel  marker byte: 0 (another layer's), or
//	            1 NAK      origin uvarint, runs uvarint (1 … MaxNakRuns),
//	                       then per run: first seq uvarint, count uvarint
//	                       (counts add up to at most MaxNakRange)
//	            2 RETRANS  origin uvarint, seq uvarint, then the message
package mnak

import (
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/internal/seqlog"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// NakInterval is how long a receiver waits before asking again for
	// the same missing messages.
	NakInterval time.Duration
	// MaxNakRange bounds the messages one NAK asks for, and so the
	// retransmissions it can cause.
	MaxNakRange uint64
	// MaxHeld is the receive window: per remote sender, only sequence
	// numbers below the lowest held plus MaxHeld are accepted; messages
	// beyond it are dropped and asked for again later. The window of the
	// flow control layer must be smaller.
	MaxHeld int
	// RetransBudget bounds the messages retransmitted to one requester
	// per NakInterval, whatever it asks.
	RetransBudget int
}

// Defaults.
const (
	DefaultNakInterval = 4 * time.Millisecond
	DefaultMaxNakRange = 256
	DefaultMaxHeld     = 1 << 13
	// DefaultRetransBudget is two full NAKs' worth: enough for a member
	// to recover from the origin and from one other holder at once.
	DefaultRetransBudget = 2 * DefaultMaxNakRange
)

// MaxNakRuns bounds the runs of missing messages one NAK names.
const MaxNakRuns = 32

const (
	markPass    = 0
	markNak     = 1
	markRetrans = 2
)

// Layer is the reliable multicast layer.
type Layer struct {
	cfg     Config
	p       *layers.Port
	rank    int
	logs    []seqlog.Log // per origin rank
	caps    []uint64     // per origin: deliver no further (a view change's cut)
	cuts    []uint64     // per origin: the cut asked for, which caps may exceed
	holders []int        // per origin: whom to ask for missing messages
	lastNak []time.Duration
	trimmed time.Duration   // when the logs were last trimmed
	served  []seqlog.Served // per requester
	runs    []seqlog.Run
	nakBuf  []byte
}

// New returns a reliable multicast layer.
func New(cfg Config) *Layer {
	if cfg.NakInterval == 0 {
		cfg.NakInterval = DefaultNakInterval
	}
	if cfg.MaxNakRange == 0 {
		cfg.MaxNakRange = DefaultMaxNakRange
	}
	if cfg.MaxHeld == 0 {
		cfg.MaxHeld = DefaultMaxHeld
	}
	if cfg.RetransBudget == 0 {
		cfg.RetransBudget = DefaultRetransBudget
	}
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "mnak" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank = p.View().Rank
	n := p.View().N
	l.logs = make([]seqlog.Log, n)
	l.lastNak = make([]time.Duration, n)
	counts := make([]uint64, 2*n) // one allocation: a stack is built at every view change
	l.caps, l.cuts = counts[:n:n], counts[n:]
	l.holders = make([]int, n)
	l.served = make([]seqlog.Served, n)
	for i := range n {
		l.caps[i], l.cuts[i], l.holders[i] = noCap, noCap, i
	}
}

// NoCut lifts a cut: the origin is delivered as far as its messages go.
const NoCut = layers.NoCut

const noCap = NoCut

// Cut stops delivery of origin's messages at upTo (the count delivered so
// far, to freeze it), learns that messages up to upTo exist and asks holder
// for the missing ones. The membership protocol uses it in a view change:
// first to freeze the members being removed, then to bring every survivor
// to the same cut. A cut only moves forward: Cut with upTo below what was
// delivered already keeps the delivered count. A view change cuts a
// surviving origin at the count it reported of its own multicasts, and an
// insider may have had this member deliver one beyond it, a forgery
// claiming that origin, which the sender authentication layer above holds
// back and drops at the view's end.
func (l *Layer) Cut(origin int, upTo uint64, holder int) {
	log := &l.logs[origin]
	l.caps[origin] = max(upTo, log.Next())
	l.cuts[origin] = upTo
	l.holders[origin] = holder
	if origin == l.rank {
		return
	}
	if upTo == NoCut {
		// Lifting a cut says nothing about how many messages exist.
		l.deliver(origin)
		return
	}
	log.Learn(upTo, l.cfg.MaxHeld)
	l.deliver(origin)
	if log.Next() < upTo {
		l.nak(origin)
	}
}

var _ layers.Cutter = (*Layer)(nil)

// ReachedCuts reports whether every origin's delivery has reached its cut.
func (l *Layer) ReachedCuts() bool {
	for origin := range l.logs {
		if l.caps[origin] != noCap && l.logs[origin].Next() < l.caps[origin] {
			return false
		}
	}
	return true
}

// Sent is the number of multicasts this member has sent in the view.
func (l *Layer) Sent() uint64 { return l.logs[l.rank].Next() }

// Delivered returns how many messages from origin this member has delivered.
func (l *Layer) Delivered(origin int) uint64 { return l.logs[origin].Next() }

func (l *Layer) Down(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
		l.cast(ev)
	case layers.ESendUnrel:
		ev.Msg.PushByte(markPass)
		l.p.Down(ev)
	case layers.EStable:
		l.stable(ev.Stability)
		l.p.Down(ev)
	case layers.ERefuseCast:
		l.refuse(ev.Peer, ev.Seq)
	default:
		l.p.Down(ev)
	}
}

// refuse forgets origin's messages from seq on, which the layer above
// refused (one of them was not what origin sent: an insider's copy took
// the real one's place here), and asks for them again at once, as for a
// gap. The layer above is trusted, but a refusal is still bounded: one of
// this member's own multicasts, or of a number not delivered or no longer
// held, changes nothing. Stability lets no holder release them meanwhile,
// since this member has not delivered them to the stability layer (which
// sits above sign), and a cut counts them missing again until they arrive.
func (l *Layer) refuse(origin int, seq uint64) {
	if origin < 0 || origin >= len(l.logs) || origin == l.rank {
		l.p.Count("refusals_ignored", 1)
		return
	}
	log := &l.logs[origin]
	delivered := log.Next()
	if !log.Forget(seq) {
		l.p.Count("refusals_ignored", 1)
		return
	}
	l.p.Count("refused", 1)
	l.p.Count("refetch", delivered-seq)
	if l.caps[origin] != noCap {
		// What was delivered beyond the cut asked for, and kept the cap
		// there, is gone: wait for no more than the cut.
		l.caps[origin] = max(l.cuts[origin], seq)
	}
	l.nak(origin)
}

func (l *Layer) cast(ev *layers.Event) {
	local := l.p.NewEvent(layers.ECast, l.rank)
	local.Msg = ev.Msg
	seq := l.logs[l.rank].Append(&ev.Msg)
	var a [10]byte
	ev.Msg.Push(wire.AppendUvarint(a[:0], seq))
	l.p.Down(ev)
	// The sender delivers its own multicast at once, in its own order.
	l.p.Up(local)
	l.p.FreeEvent(local)
}

func (l *Layer) Up(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
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
	r := ev.Msg.Reader()
	switch r.Byte() {
	case markPass:
		ev.Msg.ConsumeRead(&r)
		l.p.Up(ev)
	case markNak:
		origin := int(r.UvarintMax(uint64(len(l.logs) - 1)))
		runs, ok := seqlog.ParseRuns(&r, l.runs[:0], MaxNakRuns, l.cfg.MaxNakRange)
		l.runs = runs[:0]
		if !ok {
			l.p.Drop("malformed")
			return
		}
		for _, run := range runs {
			l.retransmit(ev.Peer, origin, run.First, run.Count)
		}
	case markRetrans:
		origin := r.UvarintMax(uint64(len(l.logs) - 1))
		seq := r.Uvarint()
		if r.Err() != nil || r.Len() == 0 {
			l.p.Drop("malformed")
			return
		}
		ev.Msg.ConsumeRead(&r)
		if int(origin) == l.rank {
			l.p.Drop("own_retransmission")
			return
		}
		l.p.Count("retransmissions_received", 1)
		l.receive(int(origin), seq, &ev.Msg)
	default:
		l.p.Drop("malformed")
	}
}

// receive files message seq from origin and delivers what has become
// deliverable.
func (l *Layer) receive(origin int, seq uint64, m *layers.Message) {
	log := &l.logs[origin]
	gapBefore := log.Missing()
	switch log.Put(seq, m, l.cfg.MaxHeld) {
	case seqlog.Duplicate:
		l.p.Count("duplicates", 1)
		return
	case seqlog.Full:
		l.p.Drop("window")
		return
	}
	if !gapBefore && seq > log.Next() && seq < l.caps[origin] {
		// A new gap: ask at once rather than wait for the timer.
		l.nak(origin)
	}
	l.deliver(origin)
}

// deliver passes origin's messages up in order, as far as they have arrived
// and the cut allows.
func (l *Layer) deliver(origin int) {
	log := &l.logs[origin]
	for log.Deliverable() && log.Next() < l.caps[origin] {
		ev := l.p.NewEvent(layers.ECast, origin)
		ev.Msg = log.Pop()
		l.p.Up(ev)
		l.p.FreeEvent(ev)
	}
}

// nak asks origin for the messages missing from its stream.
func (l *Layer) nak(origin int) {
	log := &l.logs[origin]
	if log.Next() >= l.caps[origin] {
		return // nothing more is wanted from this origin in this view
	}
	if l.caps[origin] != noCap {
		// The cut may lie beyond the window: learn as much of it as the
		// window now allows.
		log.Learn(l.caps[origin], l.cfg.MaxHeld)
	}
	l.runs = log.Gaps(l.runs[:0], MaxNakRuns, min(l.cfg.MaxNakRange, l.caps[origin]-log.Next()))
	if len(l.runs) == 0 {
		return
	}
	l.lastNak[origin] = l.p.Now()
	b := append(l.nakBuf[:0], markNak)
	b = wire.AppendUvarint(b, uint64(origin))
	b = seqlog.AppendRuns(b, l.runs)
	l.nakBuf = b
	ev := l.p.NewEvent(layers.ESendUnrel, l.holders[origin])
	ev.Msg.Body = b
	l.p.Count("naks_sent", 1)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// retransmit answers a NAK from requester with whatever it holds of the range.
func (l *Layer) retransmit(requester, origin int, first, count uint64) {
	log := &l.logs[origin]
	served := &l.served[requester]
	// ParseRuns made sure first+count does not wrap.
	for seq := first; seq < first+count; seq++ {
		m, ok := log.Get(seq)
		if !ok {
			continue
		}
		switch served.Allow(l.p.Now(), l.cfg.NakInterval, l.cfg.RetransBudget, origin, seq) {
		case seqlog.Repeated:
			l.p.Count("retrans_repeats_refused", 1)
			continue
		case seqlog.OverBudget:
			l.p.Count("retrans_over_budget", 1)
			return
		}
		ev := l.p.NewEvent(layers.ESendUnrel, requester)
		ev.Msg = *m
		var a [24]byte
		h := append(a[:0], markRetrans)
		h = wire.AppendUvarint(h, uint64(origin))
		h = wire.AppendUvarint(h, seq)
		ev.Msg.Push(h)
		l.p.Count("retransmitted", 1)
		l.p.Count("retransmitted_bytes", uint64(ev.Msg.Len()))
		l.p.Down(ev)
		l.p.FreeEvent(ev)
	}
}

// stable releases what every member has and learns of messages this member
// has not seen at all.
func (l *Layer) stable(s *layers.Stability) {
	for origin := range l.logs {
		log := &l.logs[origin]
		log.Release(s.Stable[origin])
		if origin != l.rank && !log.Learn(s.MaxSeen[origin], l.cfg.MaxHeld) {
			l.p.Count("max_seen_beyond_window", 1)
		}
	}
}

// TrimInterval is how often the layer gives back ring memory a burst, or a
// hostile message at the window's edge, left unused (seqlog.Log.Trim).
const TrimInterval = 100 * time.Millisecond

func (l *Layer) Tick(now time.Duration) {
	if now-l.trimmed >= TrimInterval {
		l.trimmed = now
		for origin := range l.logs {
			l.logs[origin].Trim()
		}
	}
	for origin := range l.logs {
		log := &l.logs[origin]
		// A cut beyond the window is wanted too, though not yet known.
		wanted := log.Missing() || l.caps[origin] != noCap && log.Next() < l.caps[origin]
		if origin == l.rank || l.holders[origin] == l.rank || !wanted {
			continue
		}
		if now-l.lastNak[origin] >= l.cfg.NakInterval {
			l.nak(origin)
		}
	}
}

// Progress reports, for origin's stream, the lowest sequence number still
// held, the count delivered and one past the highest known to exist.
func (l *Layer) Progress(origin int) (low, delivered, known uint64) {
	log := &l.logs[origin]
	return log.Low(), log.Next(), log.Known()
}

// Footprint is the bytes held for other origins' messages and for
// requesters (see the package documentation).
func (l *Layer) Footprint() int {
	n := 0
	for origin := range l.logs {
		if origin != l.rank {
			n += l.logs[origin].Footprint()
		}
		n += l.served[origin].Footprint()
	}
	return n
}

// FootprintBound is the stated bound on Footprint: per other origin a full
// window of full datagrams, per requester a Served record.
func (l *Layer) FootprintBound() int {
	n := len(l.logs)
	return (n-1)*seqlog.FootprintBound(l.cfg.MaxHeld, l.p.Config().MaxDatagram) + n*seqlog.ServedSize
}
