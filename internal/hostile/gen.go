package hostile

import (
	"fmt"
	"math"
	"slices"

	"github.com/conclave-go/conclave/layers"
)

// MaxUDP is the largest payload of a UDP datagram over IPv4: the largest
// datagram an attacker can send.
const MaxUDP = 65507

// MaxFragTotal is the message length a hostile first fragment claims at
// most: 64 MiB, layers.DefaultMaxMessage.
const MaxFragTotal = layers.DefaultMaxMessage

// Target is what an attacker knows of the member it attacks: an
// eavesdropper learns all of it from the unencrypted stack's traffic.
type Target struct {
	Group       uint64
	View        uint64 // the view's wire id
	N           int    // members in the view
	Rank        int    // the victim's rank
	Total       bool   // the stack runs total order
	MaxDatagram int    // the group's datagram size
	// Casts[o] is the victim's receive window for origin o's casts,
	// Sends[o] for o's point-to-point messages to it. Missing entries are
	// DefaultWindow.
	Casts, Sends []Window
	// Safe keeps the generator away from forgeries that could displace a
	// legitimate message, for datagrams spoofing a member's address (see
	// the package documentation): no sequence number in a stream's
	// [Next, Next+Ahead), no acknowledgement or stability value an honest
	// member could send, only huge ones.
	Safe bool
	// Without lists kinds never to build, alone or inside a bundle.
	Without []Kind
}

// DefaultWindow is the window assumed for a stream the Target does not
// describe.
var DefaultWindow = Window{Size: 1 << 16, Ahead: 1 << 16}

// Kind is the structure of a generated datagram.
type Kind uint8

// Kinds of stack datagram.
const (
	KCast        Kind = iota // a cast at a hostile sequence number
	KSend                    // a point-to-point message at a hostile sequence number
	KFragFirst               // a cast or send whose first fragment claims up to 64 MiB
	KFragNext                // an orphan or overflowing next fragment
	KOrder                   // an ORDER naming many casts
	KMnakNak                 // a NAK for huge or repeated ranges
	KMnakRetrans             // a retransmission at a hostile sequence number
	KPtAck                   // an acknowledgement of a hostile count
	KPtNak                   // a pt2pt NAK
	KPtRetrans               // a pt2pt retransmission at a hostile sequence number
	KGossip                  // stability gossip with hostile values or length
	KBundle                  // a bundle of hostile frames
	KNakFlood                // a bundle packed with NAK frames all asking for the same range
	KTinyFrames              // a bundle packed with as many tiny frames as fit
	KOversize                // a bundle filling a whole UDP datagram, over the group's datagram size
	KBadHeader               // a header with non-minimal, overlong or truncated varints, wrong group, view, sender or type
	KJunk                    // random bytes after a valid header
	numKinds
)

var kindNames = [...]string{
	KCast: "cast", KSend: "send", KFragFirst: "frag-first", KFragNext: "frag-next",
	KOrder: "order", KMnakNak: "mnak-nak", KMnakRetrans: "mnak-retrans", KPtAck: "pt2pt-ack",
	KPtNak: "pt2pt-nak", KPtRetrans: "pt2pt-retrans", KGossip: "gossip", KBundle: "bundle",
	KNakFlood: "nak-flood", KTinyFrames: "tiny-frames", KOversize: "oversize",
	KBadHeader: "bad-header", KJunk: "junk",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Kinds is the number of kinds Datagram chooses from.
const Kinds = int(numKinds)

// Any makes Datagram draw the kind from its Source.
const Any = numKinds

// gen carries one Datagram call's choices.
type gen struct {
	t    *Target
	src  Source
	from uint64 // the sender rank in the header
}

// Datagram builds one hostile stack datagram that claims to come from the
// member of rank from (a spoofed member's rank; any number for a stranger),
// appended to b, of the given kind, or of one drawn from src for Any.
func (t *Target) Datagram(src Source, from int, kind Kind, b []byte) (Kind, []byte) {
	g := gen{t: t, src: src, from: uint64(from)}
	if kind >= numKinds {
		kind = Kind(src.IntN(Kinds))
	}
	kind = t.allowed(kind, numKinds)
	if !t.Safe && src.IntN(8) == 0 {
		// Claim another sender than the address's owner, or one outside
		// the view.
		g.from = pick(src, []uint64{0, 1, uint64(t.Rank), uint64(t.N), math.MaxUint64, src.Uint64() % uint64(t.N+1)})
	}
	switch kind {
	case KBundle, KNakFlood, KTinyFrames, KOversize:
		return kind, g.bundle(b, kind)
	case KBadHeader:
		return kind, g.badHeader(b)
	case KJunk:
		typ := pick(src, []layers.Type{layers.ECast, layers.ESend, layers.ECastUnrel, layers.ESendUnrel, layers.EBundle})
		b = g.header(typ).Append(b)
		if g.t.Safe {
			// Random bytes may spell a message in the legitimate range;
			// an overlong varint first makes every parser refuse them.
			b = append(b, overlong...)
		}
		for range 1 + src.IntN(64) {
			b = append(b, byte(src.IntN(256)))
		}
		return kind, b
	}
	f := g.frame(kind)
	return kind, append(g.header(f.Type).Append(b), f.Body...)
}

func (g *gen) header(typ layers.Type) Header {
	return Header{Group: g.t.Group, View: g.t.View, Sender: g.from, Type: typ}
}

// enc picks how a number is encoded: mostly minimal, so that the datagram
// gets past the parsers to the logic behind them.
func (g *gen) enc() Encoding {
	if g.src.IntN(10) != 0 {
		return Minimal
	}
	if g.t.Safe {
		// A truncated varint runs on into the next byte and may read as
		// any number, one in the legitimate range included.
		return Encoding(1 + g.src.IntN(2))
	}
	return Encoding(1 + g.src.IntN(3))
}

func (g *gen) window(ws []Window, o uint64) Window {
	if o < uint64(len(ws)) {
		return ws[o]
	}
	return DefaultWindow
}

// seq picks a hostile sequence number for the stream's window.
func (g *gen) seq(w Window) uint64 { return pick(g.src, w.Seqs(g.t.Safe)) }

// origin picks the origin a NAK or retransmission names.
func (g *gen) origin() uint64 {
	if g.src.IntN(6) == 0 {
		return pick(g.src, []uint64{uint64(g.t.N), math.MaxUint64})
	}
	return uint64(g.src.IntN(max(g.t.N, 1)))
}

func (g *gen) app() []byte {
	b := make([]byte, 1+g.src.IntN(16))
	for i := range b {
		b[i] = byte(g.src.IntN(256))
	}
	return b
}

// upper builds what a reliable layer carries above its sequence number:
// a whole message, a first fragment claiming a huge total, a next
// fragment, or (for a cast under total order) an ORDER.
func (g *gen) upper(cast bool) []byte {
	u := Upper{Total: g.t.Total}
	switch g.src.IntN(5) {
	case 0:
		return u.First(nil, cast, Count(g.src, MaxFragTotal), g.enc(), g.app())
	case 1:
		return u.Next(nil, cast, g.app())
	case 2:
		if cast && g.t.Total {
			return g.order()
		}
	}
	return u.Whole(nil, cast, g.app())
}

// order builds an ORDER naming as many casts as allowed, or more.
func (g *gen) order() []byte {
	var runs []OrderRun
	for i := range 1 + g.src.IntN(32) {
		runs = append(runs, OrderRun{Origin: uint64(i % max(g.t.N, 1)), Count: Count(g.src, 1<<16)})
	}
	return Order(nil, runs, g.enc())
}

func (g *gen) runs() []Run {
	var runs []Run
	first := g.seq(g.window(g.t.Casts, 0))
	for range 1 + g.src.IntN(33) {
		c := Count(g.src, 256)
		runs = append(runs, Run{First: first, Count: c})
		if g.src.IntN(3) == 0 {
			first = pick(g.src, Huge)
		} else {
			first = sat(first, c)
		}
	}
	return runs
}

// frame builds one message of the given kind, for a datagram or a bundle.
func (g *gen) frame(kind Kind) Frame {
	e := g.enc()
	switch kind {
	case KCast:
		w := g.window(g.t.Casts, g.from)
		return Frame{layers.ECast, Seq(nil, g.seq(w), e, g.upper(true))}
	case KSend:
		w := g.window(g.t.Sends, g.from)
		return Frame{layers.ESend, Seq(nil, g.seq(w), e, g.upper(false))}
	case KFragFirst:
		cast := g.src.IntN(2) == 0
		ws := g.t.Sends
		typ := layers.ESend
		if cast {
			ws, typ = g.t.Casts, layers.ECast
		}
		total := pick(g.src, []uint64{MaxFragTotal, MaxFragTotal + 1, 1 << 20, Count(g.src, MaxFragTotal)})
		up := Upper{Total: g.t.Total}.First(nil, cast, total, e, g.app())
		return Frame{typ, Seq(nil, g.seq(g.window(ws, g.from)), e, up)}
	case KFragNext:
		up := Upper{Total: g.t.Total}.Next(nil, true, g.app())
		return Frame{layers.ECast, Seq(nil, g.seq(g.window(g.t.Casts, g.from)), e, up)}
	case KOrder:
		return Frame{layers.ECast, Seq(nil, g.seq(g.window(g.t.Casts, g.from)), e, g.order())}
	case KMnakNak:
		return Frame{layers.ESendUnrel, MnakNak(nil, g.origin(), g.runs(), e)}
	case KMnakRetrans:
		o := g.origin()
		return Frame{layers.ESendUnrel, MnakRetrans(nil, o, g.seq(g.window(g.t.Casts, o)), e, g.upper(true))}
	case KPtAck:
		v := pick(g.src, Huge)
		if !g.t.Safe {
			v = g.seq(g.window(g.t.Sends, g.from))
		}
		return Frame{layers.ESendUnrel, PtAck(nil, v, e)}
	case KPtNak:
		return Frame{layers.ESendUnrel, PtNak(nil, g.runs(), e)}
	case KPtRetrans:
		return Frame{layers.ESendUnrel, PtRetrans(nil, g.seq(g.window(g.t.Sends, g.from)), e, g.upper(false))}
	case KGossip:
		n := uint64(g.t.N)
		if !g.t.Safe && g.src.IntN(4) == 0 {
			n = Count(g.src, uint64(g.t.N))
		}
		vec := make([]uint64, min(n, 300))
		for i := range vec {
			if g.t.Safe || g.src.IntN(2) == 0 {
				vec[i] = pick(g.src, Huge)
			} else {
				vec[i] = g.seq(g.window(g.t.Casts, uint64(i)))
			}
		}
		return Frame{layers.ECastUnrel, Gossip(nil, n, vec, e)}
	}
	// Not a frame kind (every one is Without): a frame every parser refuses.
	return Frame{layers.ECastUnrel, []byte{0xff}}
}

// frameKind picks a kind that fits in a bundle.
func (g *gen) frameKind() Kind {
	return g.t.allowed(Kind(g.src.IntN(int(KGossip)+1)), KGossip+1)
}

// allowed returns k, or the next kind below end that is not Without
// (KJunk when none is).
func (t *Target) allowed(k, end Kind) Kind {
	for i := range end {
		if c := (k + i) % end; !slices.Contains(t.Without, c) {
			return c
		}
	}
	return KJunk
}

// bundle builds a bundle: a few hostile frames, or packed to the group's
// datagram size (or a whole UDP datagram) with NAKs for one range or with
// the tiniest frames.
func (g *gen) bundle(b []byte, kind Kind) []byte {
	limit := g.t.MaxDatagram
	if kind == KOversize || g.src.IntN(4) == 0 {
		limit = MaxUDP
	}
	b = g.header(layers.EBundle).Append(b)
	switch kind {
	case KNakFlood:
		f := Frame{layers.ESendUnrel, MnakNak(nil, g.origin(), []Run{{First: g.seq(g.window(g.t.Casts, 0)), Count: 256}}, Minimal)}
		if g.src.IntN(2) == 0 {
			f = Frame{layers.ESendUnrel, PtNak(nil, []Run{{First: 0, Count: 256}}, Minimal)}
		}
		return fill(b, limit, f)
	case KTinyFrames, KOversize:
		// The smallest frame that gets past the bundle parser.
		f := Frame{layers.ECastUnrel, []byte{0}}
		if g.src.IntN(2) == 0 {
			f = g.frame(KCast)
		}
		return fill(b, limit, f)
	}
	for range 2 + g.src.IntN(8) {
		b = AppendFrame(b, g.frame(g.frameKind()))
	}
	return b
}

// fill appends copies of f while they fit in limit bytes in all.
func fill(b []byte, limit int, f Frame) []byte {
	n := FrameLen(f)
	for len(b)+n <= limit {
		b = AppendFrame(b, f)
	}
	return b
}

// badHeader builds a datagram whose bottom header is wrong in one way.
func (g *gen) badHeader(b []byte) []byte {
	h := g.header(layers.ECast)
	body := Seq(nil, 0, Minimal, Upper{Total: g.t.Total}.Whole(nil, true, g.app()))
	switch g.src.IntN(6) {
	case 0:
		return append(h.AppendEnc(b, Encoding(1+g.src.IntN(2))), body...)
	case 1:
		h.Group ^= 1 + g.src.Uint64()%math.MaxUint32
	case 2:
		h.View = pick(g.src, append([]uint64{h.View + 1, 0}, Huge...))
	case 3:
		h.Sender = pick(g.src, []uint64{uint64(g.t.Rank), uint64(g.t.N), 1 << 31, math.MaxUint64})
	case 4:
		h.Type = layers.Type(pick(g.src, []int{0, int(layers.EFlush), int(layers.EStable), int(layers.EViewEnd), 255}))
	default:
		return h.Append(b) // nothing after the header
	}
	return append(h.Append(b), body...)
}
