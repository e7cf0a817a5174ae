package encrypt

import (
	"math"
	"time"
	"unsafe"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// Config configures the layer. The zero value seals for privacy with the
// default Sealer.
type Config struct {
	// IntegrityOnly authenticates datagrams without encrypting them: the
	// payload travels in clear.
	IntegrityOnly bool
	// NewSealer, if set, makes the sealer from the view's keys in place of
	// NewBlockSealer: for a sealer that runs elsewhere, or a test's. If it
	// fails, the layer has no keys.
	NewSealer func(keys Keys, rank, n int) (Sealer, error)
}

// Destinations of a datagram, as its header's first byte says.
const (
	destAll  = 0
	destThis = 1
)

// Modes, the first byte of the additional data, so that a datagram sealed
// in one mode never opens in the other.
const (
	modePrivate   = 'P'
	modeIntegrity = 'I'
)

// Layer is the encrypt layer.
type Layer struct {
	cfg    Config
	p      *layers.Port
	view   layers.View
	sealer Sealer // nil without usable keys, and once the view has ended
	// block is sealer when it is the default one, called without an
	// interface so that its common case inlines into Down and Up; nil
	// whenever sealer is.
	block *blockSealer
	// gen and counter name this member's next datagram.
	gen     uint32
	counter uint32
	// exhausted is set once this member has sealed 2^48 datagrams: its
	// ratchet has no generation left.
	exhausted bool
	peers     []peer
	// aad is a reused buffer, so that the hot path does not allocate.
	aad []byte
	// down is the event each datagram goes down in, once sealed: the
	// stack keeps no event past the call that passed it.
	down *layers.Event
	// prefix is the length of the additional data's constant part. When
	// the sender and the destination take a byte each, the data is short,
	// a prefix of l.aad, and tail points into it at what follows the
	// constant part: the sender, type and destination, then the zeros
	// that end the last block (see additional).
	prefix int
	short  []byte
	tail   *[3 + aadBlock]byte
}

// peer is what the layer keeps of a sender.
type peer struct {
	replay replay
	// hi is the newest generation authenticated from the sender, valid
	// once replay.any.
	hi uint32
}

// New returns an encrypt layer.
func New(cfg Config) *Layer { return &Layer{cfg: cfg} }

func (l *Layer) Name() string { return "encrypt" }

// Room implements layers.Roomer: the layers that fill datagrams above
// leave the header and the tag free.
func (l *Layer) Room() int              { return Room }
func (l *Layer) Tick(now time.Duration) {}

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.view = *p.View()
	l.peers = make([]peer, l.view.N)
	max := p.Config().MaxDatagram
	// The mode, the bottom header, the destination, the padding's block
	// and, in integrity-only mode, the payload (see additional).
	a := make([]byte, 0, 1+bottom.MaxHeader+10+aadBlock+max)
	if l.cfg.IntegrityOnly {
		a = append(a, modeIntegrity)
	} else {
		a = append(a, modePrivate)
	}
	a = append(a, bottom.Version)
	a = wire.AppendUint64(a, l.view.Group)
	a = wire.AppendUvarint(a, l.view.ID)
	l.aad, l.prefix = a, len(a)
	l.short = a[:(l.prefix+3+aadBlock-1)&^(aadBlock-1)]
	l.tail = (*[3 + aadBlock]byte)(a[l.prefix : l.prefix+3+aadBlock])
	l.down = &layers.Event{}
	keys, ok := p.Config().Keys.(Keys)
	if !ok {
		return
	}
	if l.cfg.NewSealer == nil {
		l.sealer = NewBlockSealer(keys, l.view.Rank, l.view.N)
	} else if s, err := l.cfg.NewSealer(keys, l.view.Rank, l.view.N); err == nil {
		l.sealer = s
	}
	l.block, _ = l.sealer.(*blockSealer)
}

func (l *Layer) Down(ev *layers.Event) {
	if ev.Type == layers.EViewEnd {
		l.p.Down(ev)
		// Nothing is sealed or opened under the epoch's keys any more.
		if l.sealer != nil {
			l.sealer.Release()
			l.sealer, l.block = nil, nil
		}
		return
	}
	if !ev.Type.IsData() {
		l.p.Down(ev)
		return
	}
	dest, flag := ev.Peer, byte(destThis)
	if ev.Type.IsCast() || dest == layers.AllPeers {
		dest, flag = layers.AllPeers, destAll
	}
	if dest == l.view.Rank {
		// The stack sends nothing to this member itself: spend no nonce.
		return
	}
	if l.sealer == nil {
		l.p.Count("drop.no_keys", 1)
		return
	}
	if l.counter == keying.DatagramsPerBlock {
		if l.gen == math.MaxUint32 {
			l.exhausted = true
		} else {
			l.gen, l.counter = l.gen+1, 0
		}
	}
	if l.exhausted {
		l.p.Count("drop.exhausted", 1)
		return
	}
	gen, counter := l.gen, l.counter
	l.counter++
	aad := l.additional(l.view.Rank, ev.Type, dest)
	// Sealed into the stack's packet buffer, the datagram goes out with no
	// copy but the bottom header's.
	out := appendHeader(l.p.Buffer(), flag, gen, counter)
	hdr := len(out)
	var plain []byte
	switch {
	case l.cfg.IntegrityOnly:
		out = ev.Msg.AppendTo(out)
		aad = append(aad, out[hdr:]...)
	case ev.Msg.Len() == len(ev.Msg.Body):
		// One piece (a bundle, a lone frame): sealed from where it is.
		plain = ev.Msg.Body
	default:
		// Headers and body: gathered, then sealed in place.
		out = ev.Msg.AppendTo(out)
		out, plain = out[:hdr], out[hdr:]
	}
	var err error
	if b := l.block.sealing(gen); b != nil {
		// The default sealer's common case, without an interface.
		out, err = sealIn(b, out, counter, aad, plain)
	} else {
		out, err = l.sealer.Seal(out, gen, counter, aad, plain)
	}
	if err != nil {
		l.p.Count("drop.seal", 1)
		return
	}
	// The layers above may still read the event they passed down: the
	// datagram goes down in the layer's own.
	d := l.down
	d.Type, d.Peer = ev.Type, ev.Peer
	d.Msg.Reset(out)
	l.p.Down(d)
}

func (l *Layer) Up(ev *layers.Event) {
	if l.sealer == nil {
		l.p.Drop("no_keys")
		return
	}
	body := ev.Msg.Front()
	flag, gen, counter, hdr := parseHeader(body)
	// Every layer above sends at least a byte.
	if hdr == 0 || len(body)-hdr < Overhead+1 {
		l.p.Drop("malformed")
		return
	}
	sender := ev.Peer // the bottom layer checked it: another member's rank
	if sender < 0 || sender >= len(l.peers) || sender == l.view.Rank {
		l.p.Drop("malformed")
		return
	}
	pr := &l.peers[sender]
	switch {
	case !pr.replay.any && gen > MaxGenerationsAhead,
		pr.replay.any && gen > pr.hi && gen-pr.hi > MaxGenerationsAhead:
		l.p.Drop("generation")
		return
	case pr.replay.any && gen < pr.hi && pr.hi-gen > 1:
		// Older than the replay window can reach.
		l.p.Drop("replay")
		return
	}
	seq := uint64(gen)<<16 | uint64(counter)
	if pr.replay.seen(seq) {
		l.p.Drop("replay")
		return
	}
	dest := layers.AllPeers
	if flag == destThis {
		dest = l.view.Rank
	}
	aad := l.additional(sender, ev.Type, dest)
	sealed := body[hdr:]
	// Opened in place: the stack owns the datagram. In integrity-only
	// mode the tag alone is opened, the payload authenticated with the
	// additional data.
	dst, ct := sealed[:0], sealed
	if l.cfg.IntegrityOnly {
		n := len(sealed) - Overhead
		aad = append(aad, sealed[:n]...)
		dst, ct = nil, sealed[n:]
	}
	var plain []byte
	var err error
	if b := l.block.opening(sender, gen); b != nil {
		// The default sealer's common case, without an interface.
		plain, err = b.Open(dst, counter, aad, ct)
	} else {
		plain, err = l.sealer.Open(dst, sender, gen, counter, aad, ct)
	}
	if l.cfg.IntegrityOnly {
		plain = sealed[:len(sealed)-Overhead]
	}
	if err != nil {
		l.p.Drop("forged")
		return
	}
	first := !pr.replay.any
	pr.replay.mark(seq)
	if first || gen > pr.hi {
		pr.hi = gen
		if gen > 0 {
			l.sealer.Retire(sender, gen-1)
		}
	}
	ev.Msg.Body = plain
	l.p.Up(ev)
}

// blockCost is about what one generation's AEAD takes in memory: the AES
// key schedules and the GCM tables, with room to spare.
const blockCost = 1024

// peerCost is what the layer keeps per member: its replay window and
// newest generation.
const peerCost = int(unsafe.Sizeof(peer{}))

// Footprint is the layer's per-member state and the default sealer's keys.
func (l *Layer) Footprint() int {
	n := len(l.peers) * peerCost
	if s, ok := l.sealer.(*blockSealer); ok {
		n += s.held() * blockCost
	}
	return n
}

// FootprintBound is N replay windows, and, with the default sealer, this
// member's own generation and heldGenerations of every other member's.
func (l *Layer) FootprintBound() int {
	n := len(l.peers)
	return n*peerCost + (1+(n-1)*heldGenerations)*blockCost
}

var _ layers.Footprinter = (*Layer)(nil)
