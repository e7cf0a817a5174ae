// Package stable tracks message stability: which multicasts every member
// has delivered.
//
// Each member counts, per sender, the multicasts it has delivered (its ack
// vector) and gossips that vector to the group, unreliably: within Interval
// of a change, at once when it has advanced by AckEvery messages, and every
// Idle when nothing changes (a heartbeat). From the latest vector of
// every member the layer computes, per sender, the minimum (Stable: safe to
// garbage-collect) and the maximum (MaxSeen: a member below it has lost
// messages) and announces both with an EStable event, down to the reliable
// multicast layer and up to flow control, whenever they change.
//
// Header on ECastUnrel: marker byte, 0 (another layer's) or 1 followed by
// the member count and one uvarint per member.
//
// Hostile input. Gossip is merged with max, so one forged huge value would
// stay for the rest of the view and make every member ask for messages that
// do not exist. A reported count for sender s is therefore believed only up
// to what this member has delivered from s plus MaxAhead (the reliable
// multicast layer's receive window, which flow control keeps every honest
// sender well inside): a vector with any count above that is refused whole
// and counted ("drop.gossip_beyond_window"). And
// MaxSeen[s] never exceeds what s itself last reported of its own stream
// (unless s is ignored): no member can have seen more of s's messages than
// s has sent, so another member's claim cannot make this one ask for
// messages that do not exist. State per member: one vector of N counts per
// member, N² uint64 in all.
package stable

import (
	"slices"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// Interval is the longest time a member waits before gossiping news
	// (deliveries since its last gossip).
	Interval time.Duration
	// Idle is the longest time between two gossips when there is no news:
	// the gossip then serves as a heartbeat for failure detection and
	// reveals losses at the tail of a stream. Gossip costs a datagram
	// from every member to every other, so an idle group of n members
	// sends n(n-1) datagrams per Idle.
	Idle time.Duration
	// AckEvery sends a gossip early once this many messages have been
	// delivered since the last one, so that a sender's flow control
	// window reopens quickly under load.
	AckEvery uint64
	// MaxAhead bounds how far a reported count may run ahead of what
	// this member has delivered from the same sender.
	MaxAhead uint64
}

// Defaults.
const (
	DefaultInterval = 5 * time.Millisecond
	DefaultIdle     = 50 * time.Millisecond
	DefaultAckEvery = 256
	// DefaultMaxAhead is the reliable multicast layer's default receive
	// window.
	DefaultMaxAhead = 1 << 13
)

const (
	markPass   = 0
	markGossip = 1
)

// Layer is the stability layer.
type Layer struct {
	cfg     Config
	p       *layers.Port
	rank    int
	acks    [][]uint64 // acks[j][s]: messages from s that member j reported delivered
	ignored []bool     // members left out of the computation (leaving the view)
	// dirty lists the senders whose column of acks (or whose ignored
	// flag, for all of them) changed since the last update, marked in
	// isDirty: update recomputes only those, O(N) each, so that a
	// gossip that changes little costs O(N), not O(N²).
	dirty      []int
	isDirty    []bool
	stability  layers.Stability
	since      uint64 // deliveries since the last gossip
	lastGossip time.Duration
	buf        []byte
}

// New returns a stability layer.
func New(cfg Config) *Layer {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.AckEvery == 0 {
		cfg.AckEvery = DefaultAckEvery
	}
	if cfg.MaxAhead == 0 {
		cfg.MaxAhead = DefaultMaxAhead
	}
	if cfg.Idle == 0 {
		cfg.Idle = DefaultIdle
	}
	cfg.Idle = max(cfg.Idle, cfg.Interval)
	return &Layer{cfg: cfg}
}

func (l *Layer) Name() string { return "stable" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank = p.View().Rank
	n := p.View().N
	// A stack is built at every view change: the matrix's rows, and the
	// vectors of the same length, share one allocation each. Each is cut
	// with its capacity at its end, so that no append reaches the next.
	l.acks = make([][]uint64, n)
	cells := make([]uint64, n*n+2*n)
	for j := range l.acks {
		l.acks[j] = cells[j*n : (j+1)*n : (j+1)*n]
	}
	vecs := cells[n*n:]
	l.stability = layers.Stability{Stable: vecs[:n:n], MaxSeen: vecs[n:]}
	flags := make([]bool, 2*n)
	l.ignored, l.isDirty = flags[:n:n], flags[n:]
	l.dirty = make([]int, 0, n)
}

// touch marks sender s's column for the next update.
func (l *Layer) touch(s int) {
	if !l.isDirty[s] {
		l.isDirty[s] = true
		l.dirty = append(l.dirty, s)
	}
}

// Ignore leaves member j out of the stability computation, or takes it back
// in. The membership protocol ignores the members a view change is
// removing: a failed member acknowledges nothing, and waiting for it would
// close every sender's flow control window for good.
func (l *Layer) Ignore(j int, ignore bool) {
	if j == l.rank || l.ignored[j] == ignore {
		return
	}
	l.ignored[j] = ignore
	// Member j's row counts in every column, and its own column's bound.
	for s := range l.acks {
		l.touch(s)
	}
	l.update()
}

var _ layers.Excluder = (*Layer)(nil)

// Stability returns the current stability vectors. They belong to the layer.
func (l *Layer) Stability() *layers.Stability { return &l.stability }

func (l *Layer) Down(ev *layers.Event) {
	if ev.Type == layers.ECastUnrel {
		ev.Msg.PushByte(markPass)
	}
	l.p.Down(ev)
}

func (l *Layer) Up(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
		l.acks[l.rank][ev.Peer]++
		l.touch(ev.Peer)
		l.since++
		l.p.Up(ev)
		if l.since >= l.cfg.AckEvery {
			l.gossip()
		}
	case layers.ECastUnrel:
		r := ev.Msg.Reader()
		switch r.Byte() {
		case markPass:
			ev.Msg.ConsumeRead(&r)
			l.p.Up(ev)
		case markGossip:
			l.receive(ev.Peer, &r)
		default:
			l.p.Drop("malformed")
		}
	default:
		l.p.Up(ev)
	}
}

func (l *Layer) receive(from int, r *wire.Reader) {
	n := len(l.acks)
	if r.Uvarint() != uint64(n) {
		l.p.Drop("malformed")
		return
	}
	row := l.acks[from]
	var vec [64]uint64
	v := vec[:0]
	for range n {
		v = append(v, r.Uvarint())
	}
	if r.Done() != nil {
		l.p.Drop("malformed")
		return
	}
	// No honest member reports a count more than the window beyond what
	// this member has delivered (flow control keeps every sender within
	// its window of the slowest member), so such a vector is forged and
	// refused whole: believing any part of it would make this member ask
	// for messages that do not exist, or release ones a member still lacks.
	own := l.acks[l.rank]
	for s, x := range v {
		// x > own[s] is checked first, so x-own[s] does not wrap.
		if x > own[s] && x-own[s] > l.cfg.MaxAhead {
			l.p.Drop("gossip_beyond_window")
			return
		}
	}
	// Gossip is unreliable and may arrive out of order: keep the largest.
	for s, x := range v {
		if x > row[s] {
			row[s] = x
			l.touch(s)
		}
	}
	l.update()
}

// gossip sends this member's ack vector to the group.
func (l *Layer) gossip() {
	l.since = 0
	l.lastGossip = l.p.Now()
	own := l.acks[l.rank]
	b := append(l.buf[:0], markGossip)
	b = wire.AppendUvarint(b, uint64(len(own)))
	for _, x := range own {
		b = wire.AppendUvarint(b, x)
	}
	l.buf = b
	// The body must outlive this call only until the bottom copies it,
	// which happens before Down returns.
	ev := l.p.NewEvent(layers.ECastUnrel, layers.AllPeers)
	ev.Msg.Body = b
	l.p.Count("gossips", 1)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
	l.update()
}

// update recomputes the stability vectors of the senders touched since
// the last update (the others' inputs are as they were) and announces a
// change.
func (l *Layer) update() {
	changed := false
	for _, s := range l.dirty {
		l.isDirty[s] = false
		lo, hi := l.acks[l.rank][s], l.acks[l.rank][s]
		for j := range l.acks {
			if !l.ignored[j] {
				lo, hi = min(lo, l.acks[j][s]), max(hi, l.acks[j][s])
			}
		}
		if !l.ignored[s] {
			// The origin's own count bounds what anyone has seen of it.
			hi = min(hi, l.acks[s][s])
		}
		if lo != l.stability.Stable[s] || hi != l.stability.MaxSeen[s] {
			changed = true
			l.stability.Stable[s], l.stability.MaxSeen[s] = lo, hi
		}
	}
	l.dirty = l.dirty[:0]
	if !changed {
		return
	}
	ev := l.p.NewEvent(layers.EStable, layers.AllPeers)
	ev.Stability = &l.stability
	l.p.Down(ev)
	ev.Type, ev.Peer, ev.Stability = layers.EStable, layers.AllPeers, &l.stability
	l.p.Up(ev)
	l.p.FreeEvent(ev)
}

func (l *Layer) Tick(now time.Duration) {
	since := now - l.lastGossip
	if since >= l.cfg.Idle || l.since > 0 && since >= l.cfg.Interval {
		l.gossip()
	}
}

// Vector returns a copy of the ack vector member j last reported.
func (l *Layer) Vector(j int) []uint64 { return slices.Clone(l.acks[j]) }

// Footprint is the bytes of the ack vectors.
func (l *Layer) Footprint() int { n := len(l.acks); return n * n * 8 }

// FootprintBound is the stated bound: N² counts, fixed at Init.
func (l *Layer) FootprintBound() int { return l.Footprint() }
