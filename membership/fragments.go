package membership

import (
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"slices"
	"time"
)

// A control message longer than fragmentLen (a decision, a large
// handshake message) travels as Fragments: the sender names it by its
// content (ID: the first 8 bytes of its SHA-256, so that the pieces of a
// message sent again join those of the first sending) and cuts it into
// pieces of fragmentLen bytes, each sealed on its own when the message
// would be; the receiver puts the pieces back together and handles the
// whole as if it had come in one datagram, as sealed only when every
// piece was opened by the same sealing. Only members and proven peers of a view
// change under way may send fragments (a stranger's are dropped, counted
// as drop.stranger.Fragment). Reassembly is bounded:
//
//	per sender      maxPerSender messages at a time; a piece of another
//	                message makes room by forgetting the sender's
//	                oldest unfinished one
//	all senders     at most maxReassemblies messages and maxReassembled
//	                bytes held; past either, new messages are dropped
//	                (drop.fragment_full)
//	time            a message not complete within Timing.Flush of its
//	                first piece is forgotten (fragments_expired)
//
// Each piece is checked against the message's count and length before it
// is stored; a piece that disagrees (another count, a duplicate index, a
// middle piece shorter than fragmentLen) is dropped (drop.fragment).

// maxPerSender bounds the messages reassembled at once from one sender.
const maxPerSender = 4

// maxReassemblies bounds the control messages being reassembled at once.
const maxReassemblies = 2 * MaxMembers

// maxReassembled bounds the bytes held for them.
const maxReassembled = 4 * maxCtlMessage

type reassembly struct {
	from   netip.AddrPort
	auth   *sealing // what opened the pieces; nil: not sealed
	id     uint64
	count  uint64
	pieces [][]byte
	have   uint64
	size   int
	start  time.Duration
}

type reassembler struct {
	msgs  []*reassembly
	bytes int
}

// fragments cuts an encoded control message of type typ into fragments,
// each an encoded control message of its own; nil if one cannot be
// encoded.
func (m *Member) fragments(data []byte, typ msgType) [][]byte {
	h := sha256.Sum256(data)
	id := binary.BigEndian.Uint64(h[:8])
	count := uint64((len(data) + fragmentLen - 1) / fragmentLen)
	ds := make([][]byte, 0, count)
	for i := range count {
		chunk := data[int(i)*fragmentLen : min(len(data), int(i+1)*fragmentLen)]
		f := ctlMsg{Type: mFragment, From: m.self, Frag: fragment{ID: id, Index: i, Count: count, Chunk: chunk}}
		b, err := f.encode(nil, m.cfg.Group)
		if err != nil {
			m.count("drop.unencodable." + typ.String())
			return nil
		}
		ds = append(ds, b)
	}
	return ds
}

// onFragment stores a piece opened by s (nil: unsealed), and handles the
// message once it is whole.
func (m *Member) onFragment(from netip.AddrPort, msg *ctlMsg, s *sealing) {
	f := msg.Frag
	ra := &m.reassembly
	ra.expire(m.now, m.cfg.Timing.Flush, m)
	var r *reassembly
	oldest, mine := -1, 0
	for i, x := range ra.msgs {
		if x.from != from {
			continue
		}
		mine++
		if x.id == f.ID && x.auth == s {
			r = x
		}
		if oldest < 0 || x.start < ra.msgs[oldest].start {
			oldest = i
		}
	}
	if r == nil && mine >= maxPerSender {
		ra.remove(oldest)
	}
	if r == nil {
		if len(ra.msgs) >= maxReassemblies {
			m.count("drop.fragment_full")
			return
		}
		r = &reassembly{from: from, auth: s, id: f.ID, count: f.Count, pieces: make([][]byte, f.Count), start: m.now}
		ra.msgs = append(ra.msgs, r)
	}
	last := f.Index == f.Count-1
	if r.pieces[f.Index] != nil && f.Count == r.count {
		return // a piece of the message sent again
	}
	if f.Count != r.count || !last && len(f.Chunk) != fragmentLen {
		m.count("drop.fragment")
		return
	}
	if ra.bytes+len(f.Chunk) > maxReassembled {
		m.count("drop.fragment_full")
		return
	}
	r.pieces[f.Index] = slices.Clone(f.Chunk)
	r.have++
	r.size += len(f.Chunk)
	ra.bytes += len(f.Chunk)
	if r.have < r.count {
		return
	}
	ra.remove(slices.Index(ra.msgs, r))
	whole := slices.Concat(r.pieces...)
	inner, err := decodeCtl(whole, m.cfg.Group)
	if err != nil || inner.Type == mFragment || inner.Type == mSealed || inner.From != msg.From {
		m.count("drop.malformed_control")
		return
	}
	m.count("reassembled")
	if r.auth != nil {
		m.receiveOpened(from, len(whole), &inner, r.auth)
		return
	}
	m.receiveCtl(from, len(whole), &inner, false)
}

func (ra *reassembler) remove(i int) {
	ra.bytes -= ra.msgs[i].size
	ra.msgs = slices.Delete(ra.msgs, i, i+1)
}

func (ra *reassembler) expire(now, after time.Duration, m *Member) {
	for i := 0; i < len(ra.msgs); {
		if now-ra.msgs[i].start >= after {
			ra.remove(i)
			m.count("fragments_expired")
			continue
		}
		i++
	}
}
