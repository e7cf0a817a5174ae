package sign

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"time"
	"unsafe"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// Interval bounds how long a multicast waits at its sender for its
	// batch to be signed when the driver does not flush: the first Tick
	// Interval after the batch's first message signs it. A driver that
	// flushes whenever it has no more input for now, as the stack's
	// contract asks, has every batch signed at that flush, long before.
	Interval time.Duration
	// MaxBatch is the most multicasts one signature covers; a batch that
	// reaches it is signed at once. Receivers refuse larger batches.
	MaxBatch int
	// UnsignedTimeout is how long a receiver keeps the messages of a batch
	// whose signature has not arrived. It must exceed what the reliable
	// multicast layer needs to recover a lost datagram while its sender is
	// in the view, or an honest batch could be dropped at one member and
	// delivered at the others.
	UnsignedTimeout time.Duration
	// OvertakenAfter is how long a receiver keeps held messages that
	// stability shows overtaken before it refuses them. An origin's own
	// count moves up with each message of a batch as the batch goes down,
	// so its gossip, sent from within that, can name a message in the
	// middle of a batch whose rest is a moment behind: only a batch still
	// unsigned that long after is not coming.
	OvertakenAfter time.Duration
}

// Defaults.
const (
	DefaultInterval        = time.Millisecond
	DefaultMaxBatch        = 128
	DefaultUnsignedTimeout = 10 * time.Second
	DefaultOvertakenAfter  = 200 * time.Millisecond
)

// Limits on what a receiver accepts, whatever the configuration.
const (
	// MaxSignature bounds a signature's length: Ed25519's are 64 bytes,
	// ECDSA's with P-521 at most 139.
	MaxSignature = 144
	// LimitBatch bounds MaxBatch.
	LimitBatch = 1 << 12
)

// MaxHeader is the longest header the layer puts on a message: the mark,
// a count and a signature with its length.
const MaxHeader = 1 + 2 + 2 + MaxSignature

// Room is the most the layer adds to a message, which the layers that
// fill datagrams from above (fragmentation) must leave free below
// MaxDatagram, beside the head room of the layers below: a batch's last
// message carries the signature whatever its size. With Ed25519 the layer
// adds 69 bytes to that message and 1 to the others.
const Room = MaxHeader

const (
	markMore = 0
	markLast = 1
)

// stream is what a receiver knows of one origin's multicasts.
type stream struct {
	// next is the origin's sequence number (in the reliable multicast
	// layer's numbering) of the next message that layer delivers.
	next uint64
	// held are the messages since the last batch, oldest first: held[i]
	// is number next-len(held)+i. They wait for a signature.
	held []layers.Message
	// since is when held[0] arrived, or became the oldest.
	since time.Duration
	// bytes is the length of the held messages.
	bytes int
	// seen is the most messages of the origin any member has delivered,
	// as the stability layer last said (its MaxSeen).
	seen uint64
}

// Layer is the sender authentication layer.
type Layer struct {
	cfg  Config
	p    *layers.Port
	keys Keys
	view layers.View

	// The open batch of this member's own multicasts.
	batch   []layers.Message
	opened  time.Duration // when its first message came
	sent    uint64        // this member's multicasts passed down so far
	blocked bool          // the view's counts are taken: sign every multicast at once
	sealing bool          // a batch is going down (see seal)
	out     []layers.Message

	streams []stream
	h       hash.Hash
	sum     [sha256.Size]byte
	buf     [36]byte // what goes into h besides messages: a field, since h is an interface
	scratch []layers.Message
}

// New returns a sender authentication layer.
func New(cfg Config) *Layer {
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultMaxBatch
	}
	cfg.MaxBatch = min(cfg.MaxBatch, LimitBatch)
	if cfg.UnsignedTimeout <= 0 {
		cfg.UnsignedTimeout = DefaultUnsignedTimeout
	}
	if cfg.OvertakenAfter <= 0 {
		cfg.OvertakenAfter = DefaultOvertakenAfter
	}
	return &Layer{cfg: cfg, h: sha256.New()}
}

func (l *Layer) Name() string { return "sign" }

// Room implements layers.Roomer: fragmentation above leaves the longest
// header free, which a batch's last message carries whatever its size.
func (l *Layer) Room() int { return Room }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.view = *p.View()
	l.keys, _ = p.Config().Keys.(Keys)
	l.streams = make([]stream, l.view.N)
}

func (l *Layer) Down(ev *layers.Event) {
	switch ev.Type {
	case layers.ECast:
		if l.keys == nil {
			l.p.Count("drop.unprotected", 1)
			return
		}
		if len(l.batch) == 0 {
			l.opened = l.p.Now()
		}
		l.batch = append(l.batch, ev.Msg)
		if len(l.batch) >= l.cfg.MaxBatch || l.blocked {
			l.seal(false) // while a batch goes down, this one waits for it
		}
	case layers.EFlush:
		// The driver has no more input for now: what it gave is signed at
		// once, however little (group commit). A busy driver flushes less
		// often than messages come, so batches grow with the load by
		// themselves, and the layers below send them on in this flush.
		l.seal(true)
		l.p.Down(ev)
	case layers.EViewEnd:
		l.endView()
		l.p.Down(ev)
	case layers.EStable:
		// Going down to mnak: what it says of the other members'
		// deliveries shows a copy held here that is not the real one.
		l.p.Down(ev)
		l.stable(ev.Stability)
	default:
		l.p.Down(ev)
	}
}

// stable learns from the stability layer how many of each origin's
// multicasts some member has delivered.
func (l *Layer) stable(s *layers.Stability) {
	for origin := range l.streams {
		if origin == l.view.Rank || origin >= len(s.MaxSeen) {
			continue
		}
		st := &l.streams[origin]
		st.seen = max(st.seen, s.MaxSeen[origin])
		l.overtaken(origin, st)
	}
}

// overtaken refuses what this member holds of origin's stream when some
// member delivered a held message, and this member has as many of the
// origin's messages as any member delivered, and has held them
// OvertakenAfter: a signature within what it holds verified there, so the
// copy it holds in that signature's place is not the real one (an
// insider's, with the "more" mark). Without this, it would wait for a
// signature that never comes, the origin idle. Checked when stability
// changes and on every tick.
func (l *Layer) overtaken(origin int, st *stream) {
	oldest := st.next - uint64(len(st.held))
	if len(st.held) > 0 && st.seen > oldest && st.seen <= st.next && l.p.Now()-st.since >= l.cfg.OvertakenAfter {
		l.p.Count("drop.overtaken", uint64(len(st.held)))
		l.refuse(origin, st, oldest)
	}
}

func (l *Layer) Tick(now time.Duration) {
	if len(l.batch) > 0 && now-l.opened >= l.cfg.Interval {
		l.seal(false)
	}
	for origin := range l.streams {
		st := &l.streams[origin]
		if origin != l.view.Rank {
			l.overtaken(origin, st)
		}
		if len(st.held) > 0 && now-st.since >= l.cfg.UnsignedTimeout {
			// Fetched again: the copy that should have carried the
			// signature may be an insider's, which nothing else reveals.
			l.p.Count("drop.unsigned_timeout", uint64(len(st.held)))
			l.refuse(origin, st, st.next-uint64(len(st.held)))
		}
	}
}

// Settle refuses what this member holds of origin's multicasts below
// count, the number origin itself counted in the view once the view
// change had it sign and send every batch (layers.Settler): every batch
// below count ends below it, so a message held there waits for a
// signature that has gone by, in a copy that was not the real one.
func (l *Layer) Settle(origin int, count uint64) {
	if origin < 0 || origin >= len(l.streams) || origin == l.view.Rank {
		return
	}
	st := &l.streams[origin]
	if oldest := st.next - uint64(len(st.held)); len(st.held) > 0 && oldest < count {
		l.p.Count("drop.settled", uint64(len(st.held)))
		l.refuse(origin, st, oldest)
	}
}

// Held is the number of origin's multicasts this member holds for their
// signature: delivered by the reliable multicast layer below, not yet to
// the application (layers.Settler).
func (l *Layer) Held(origin int) uint64 {
	if origin < 0 || origin >= len(l.streams) || origin == l.view.Rank {
		return 0
	}
	return uint64(len(l.streams[origin].held))
}

var _ layers.Settler = (*Layer)(nil)

// Block signs and sends the open batch at once, and every multicast after
// it, for the rest of the view: the view change is about to take this
// member's count of multicasts, and a message counted must carry its
// signature within the count (see layers.Flush).
func (l *Layer) Block() {
	l.blocked = true
	l.seal(false)
}

var _ layers.Blocker = (*Layer)(nil)

// seal signs the open batch, if any, and passes its messages down, the
// signature in the last one's header.
//
// The reliable multicast layer delivers each message back up while it goes
// down, and the layers above may multicast in that upcall (flow control
// sending what stability let through). Those multicasts join the next
// batch: none may slip between this batch's messages, whose numbers the
// signature covers. So seal takes the batch out first, and a call made
// while a batch goes down only adds to the next; what has come meanwhile is
// signed after it if all is set (the driver's flush, which wants
// everything out), or if it is due anyway (a full batch, or the view
// blocked), else it waits as any open batch does.
func (l *Layer) seal(all bool) {
	if l.sealing || len(l.batch) == 0 {
		return
	}
	l.sealing = true
	defer func() { l.sealing = false }()
	for due := true; due; due = len(l.batch) > 0 && (all || len(l.batch) >= l.cfg.MaxBatch || l.blocked) {
		n := min(len(l.batch), l.cfg.MaxBatch)
		out := append(l.out[:0], l.batch[:n]...)
		k := copy(l.batch, l.batch[n:])
		clear(l.batch[k:])
		l.batch = l.batch[:k]
		l.opened = l.p.Now()
		l.send(out)
		clear(out)
		l.out = out[:0]
	}
}

// send signs a batch and passes its messages down.
func (l *Layer) send(batch []layers.Message) {
	first := l.sent
	sig, err := l.keys.SenderSign(Label, l.digest(l.view.Rank, first, batch, nil))
	if err != nil {
		// Only released keys fail: the view is over.
		l.p.Count("drop.sign_failed", uint64(len(batch)))
		return
	}
	l.sent += uint64(len(batch))
	l.p.Count("batches_signed", 1)
	l.p.Count("signed", uint64(len(batch)))
	for i := range batch {
		ev := l.p.NewEvent(layers.ECast, layers.AllPeers)
		ev.Msg = batch[i]
		if i < len(batch)-1 {
			ev.Msg.PushByte(markMore)
		} else {
			var a [MaxHeader]byte
			h := append(a[:0], markLast)
			h = wire.AppendUvarint(h, uint64(len(batch)))
			h = wire.AppendUvarint(h, uint64(len(sig)))
			h = append(h, sig...)
			ev.Msg.Push(h)
		}
		l.p.Down(ev)
		l.p.FreeEvent(ev)
	}
}

// digest is what a batch's signature covers: SHA-256 over the group, the
// view, the sender's rank, the sequence number of the batch's first
// message, the count, and each message as its length and bytes. last, if
// not nil, is the batch's last message, not in msgs.
func (l *Layer) digest(sender int, first uint64, msgs []layers.Message, last *layers.Message) []byte {
	count := len(msgs)
	if last != nil {
		count++
	}
	b := binary.BigEndian.AppendUint64(l.buf[:0], l.view.Group)
	b = binary.BigEndian.AppendUint64(b, l.view.ID)
	b = binary.BigEndian.AppendUint32(b, uint32(sender))
	b = binary.BigEndian.AppendUint64(b, first)
	b = binary.BigEndian.AppendUint32(b, uint32(count))
	l.h.Reset()
	l.h.Write(b)
	for i := range msgs {
		l.write(&msgs[i])
	}
	if last != nil {
		l.write(last)
	}
	return l.h.Sum(l.sum[:0])
}

func (l *Layer) write(m *layers.Message) {
	l.h.Write(binary.BigEndian.AppendUint64(l.buf[:0], uint64(m.Len())))
	l.h.Write(m.Head())
	l.h.Write(m.Body)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Type != layers.ECast {
		l.p.Up(ev)
		return
	}
	origin := ev.Peer
	if origin == l.view.Rank {
		// This member's own multicast, passed back up by the layer below
		// as it went down: delivered as it was signed.
		r := ev.Msg.Reader()
		if r.Byte() == markLast {
			r.UvarintMax(LimitBatch)
			r.Bytes(int(r.UvarintMax(MaxSignature)))
		}
		if r.Err() != nil {
			l.p.Drop("malformed")
			return
		}
		ev.Msg.ConsumeRead(&r)
		l.p.Up(ev)
		return
	}
	if origin < 0 || origin >= len(l.streams) {
		l.p.Drop("malformed")
		return
	}
	st := &l.streams[origin]
	// Every message the layer below delivers takes one number of the
	// origin's stream, whatever it turns out to be.
	seq := st.next
	st.next++
	if l.keys == nil {
		l.p.Drop("unprotected")
		return
	}
	r := ev.Msg.Reader()
	switch r.Byte() {
	case markMore:
		if r.Err() != nil {
			break
		}
		ev.Msg.ConsumeRead(&r)
		l.hold(origin, st, seq, ev.Msg)
		return
	case markLast:
		count := r.UvarintMax(uint64(l.cfg.MaxBatch))
		sig := r.Bytes(int(r.UvarintMax(MaxSignature)))
		if r.Err() != nil || count == 0 || len(sig) == 0 {
			break
		}
		ev.Msg.ConsumeRead(&r)
		l.verify(origin, st, seq, int(count), sig, ev)
		return
	}
	// No signed batch holds a malformed message, so none can hold the
	// messages before it either: this copy took the real one's place.
	l.p.Drop("malformed")
	l.refuse(origin, st, seq-uint64(len(st.held)))
}

// refuse drops what this member holds of origin's stream and the message
// from first on, held or arriving, and tells mnak below to forget them and
// fetch them again (ERefuseCast): a copy among them is not what origin
// signed, and the real one, which mnak took as a duplicate, is still held
// by the origin and every other member, since stability counts only what
// this layer delivered. first is the oldest held message's number, or the
// arriving one's when none is held: never one already delivered.
func (l *Layer) refuse(origin int, st *stream, first uint64) {
	if n := len(st.held); n > 0 {
		l.p.Count("drop.unsigned", uint64(n))
		l.release(st, n)
	}
	st.next = first
	l.p.Count("refused", 1)
	ev := l.p.NewEvent(layers.ERefuseCast, origin)
	ev.Seq = first
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// hold keeps message seq until the signature of its batch arrives. A batch
// is at most MaxBatch messages, so when more would be held the oldest is
// in no batch with the rest: the message that ended its batch was not the
// real one, and what is held is refused.
func (l *Layer) hold(origin int, st *stream, seq uint64, m layers.Message) {
	if len(st.held) >= l.cfg.MaxBatch {
		l.p.Count("drop.overlong", 1)
		l.refuse(origin, st, seq-uint64(len(st.held)))
		return
	}
	if len(st.held) == 0 {
		st.since = l.p.Now()
	}
	if len(st.held) == cap(st.held) {
		// Grown by hand, so that the capacity never passes MaxBatch.
		grown := make([]layers.Message, len(st.held), min(max(2*cap(st.held), 4), l.cfg.MaxBatch))
		copy(grown, st.held)
		st.held = grown
	}
	st.held = append(st.held, m)
	st.bytes += m.Len()
	l.overtaken(origin, st)
}

// verify checks the batch that message seq from origin ends: the count-1
// messages held before it and the message itself. A batch that verifies is
// delivered in order. One that does not, or that does not cover exactly
// what is held, is refused with what is held: honest batches follow each
// other, each ending with its signature, so a copy among them is not the
// origin's.
func (l *Layer) verify(origin int, st *stream, seq uint64, count int, sig []byte, ev *layers.Event) {
	before := count - 1 // count ≥ 1, checked by the parser
	// seq ≥ len(held): the held messages took the numbers just below it.
	oldest := seq - uint64(len(st.held))
	if before > len(st.held) {
		// The batch reaches back past what this member holds: a copy
		// that ended a batch early, or this one, is not the real one.
		l.p.Drop("bad_proof")
		l.refuse(origin, st, oldest)
		return
	}
	if before < len(st.held) {
		// Held messages older than the batch are in no batch: the
		// message that should have ended theirs was not the real one.
		l.p.Drop("bad_proof")
		l.refuse(origin, st, oldest)
		return
	}
	if !l.keys.SenderVerify(origin, Label, l.digest(origin, oldest, st.held, &ev.Msg), sig) {
		l.p.Drop("forged")
		l.p.Count("forged_messages", uint64(count))
		l.refuse(origin, st, oldest)
		return
	}
	l.p.Count("batches_verified", 1)
	// The held messages leave the stream before they go up, so that the
	// stream is consistent whatever the layers above do meanwhile.
	msgs := append(l.scratch[:0], st.held...)
	l.release(st, len(st.held))
	for i := range msgs {
		up := l.p.NewEvent(layers.ECast, origin)
		up.Msg = msgs[i]
		l.p.Up(up)
		l.p.FreeEvent(up)
	}
	clear(msgs)
	l.scratch = msgs[:0]
	l.p.Up(ev)
}

// release forgets the n oldest held messages.
func (l *Layer) release(st *stream, n int) {
	for i := range n {
		st.bytes -= st.held[i].Len()
	}
	k := copy(st.held, st.held[n:])
	clear(st.held[k:])
	st.held = st.held[:k]
	if k > 0 {
		st.since = l.p.Now()
	}
}

// endView drops what the view can no longer carry: this member's batch
// not yet sent (no member delivers it, this one included), and the
// messages held for a signature that did not come within the view's cut.
func (l *Layer) endView() {
	if n := len(l.batch); n > 0 {
		l.p.Count("drop.unsent_at_view_end", uint64(n))
		clear(l.batch)
		l.batch = l.batch[:0]
	}
	for origin := range l.streams {
		st := &l.streams[origin]
		if n := len(st.held); n > 0 {
			l.p.Count("drop.unsigned_at_view_end", uint64(n))
			l.release(st, n)
		}
	}
}

// messageSize is what a held message costs beside its bytes.
const messageSize = int(unsafe.Sizeof(layers.Message{}))

// Footprint is the bytes held for other members' unsigned messages.
func (l *Layer) Footprint() int {
	n := 0
	for origin := range l.streams {
		st := &l.streams[origin]
		n += cap(st.held)*messageSize + st.bytes
	}
	return n
}

// FootprintBound is the stated bound: per other member, MaxBatch messages
// of at most MaxDatagram bytes.
func (l *Layer) FootprintBound() int {
	return (len(l.streams) - 1) * l.cfg.MaxBatch * (messageSize + l.p.Config().MaxDatagram)
}
