package membership

import (
	"net/netip"
	"slices"
	"time"
)

// A control message longer than MaxControlDatagram (a decision, a large
// handshake message) travels as Fragments: the sender numbers it (ID, one
// counter per member) and cuts it into pieces of fragmentLen bytes; the
// receiver puts the pieces back together and handles the whole as if it
// had come in one datagram. Only members and proven peers of a view
// change under way may send fragments (a stranger's are dropped, counted
// as drop.stranger.Fragment). Reassembly is bounded:
//
//	per sender      one message at a time; a piece of a newer message
//	                replaces an older unfinished one
//	all senders     at most maxReassemblies messages and maxReassembled
//	                bytes held; past either, new messages are dropped
//	                (drop.fragment_full)
//	time            a message not complete within Timing.Flush of its
//	                first piece is forgotten (fragments_expired)
//
// Each piece is checked against the message's count and length before it
// is stored; a piece that disagrees (another count, a duplicate index, a
// middle piece shorter than fragmentLen) is dropped (drop.fragment).

// maxReassemblies bounds the control messages being reassembled at once.
const maxReassemblies = 2 * MaxMembers

// maxReassembled bounds the bytes held for them.
const maxReassembled = 4 * maxCtlMessage

type reassembly struct {
	from   netip.AddrPort
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

// sendLarge cuts an encoded control message into fragments for addr.
func (m *Member) sendLarge(addr netip.AddrPort, data []byte, typ msgType) {
	m.fragID++
	count := uint64((len(data) + fragmentLen - 1) / fragmentLen)
	for i := range count {
		chunk := data[int(i)*fragmentLen : min(len(data), int(i+1)*fragmentLen)]
		f := ctlMsg{Type: mFragment, From: m.self, Frag: fragment{ID: m.fragID, Index: i, Count: count, Chunk: chunk}}
		b, err := f.encode(nil, m.cfg.Group)
		if err != nil {
			m.count("drop.unencodable." + typ.String())
			return
		}
		m.ready.Packets = append(m.ready.Packets, Packet{To: addr, Data: b})
	}
	m.count("sent_fragmented." + typ.String())
}

// onFragment stores a piece, and handles the message once it is whole.
func (m *Member) onFragment(from netip.AddrPort, msg *ctlMsg) {
	f := msg.Frag
	ra := &m.reassembly
	ra.expire(m.now, m.cfg.Timing.Flush, m)
	i := slices.IndexFunc(ra.msgs, func(r *reassembly) bool { return r.from == from })
	var r *reassembly
	if i >= 0 {
		r = ra.msgs[i]
		if r.id != f.ID {
			if f.ID < r.id {
				m.count("drop.fragment_old")
				return
			}
			ra.remove(i)
			r = nil
		}
	}
	if r == nil {
		if len(ra.msgs) >= maxReassemblies {
			m.count("drop.fragment_full")
			return
		}
		r = &reassembly{from: from, id: f.ID, count: f.Count, pieces: make([][]byte, f.Count), start: m.now}
		ra.msgs = append(ra.msgs, r)
	}
	last := f.Index == f.Count-1
	if f.Count != r.count || r.pieces[f.Index] != nil || !last && len(f.Chunk) != fragmentLen {
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
	if err != nil || inner.Type == mFragment || inner.From != msg.From {
		m.count("drop.malformed_control")
		return
	}
	m.count("reassembled")
	m.receiveDecoded(from, len(whole), &inner)
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
