package sim

import (
	"net/netip"
	"slices"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// With Config.Attackers, insiders also forge point-to-point messages
// between two other members: the reliable point-to-point layer (pt2pt)
// takes the first copy of each sequence number from a sender and drops
// later ones as duplicates, and the private layer above it opens only
// what the sender sealed for the recipient. Now and then
// (SecureAttackEvery) a member opens, with its keys, the next datagram of
// its view that one member sends another with Sends in it, and sends the
// recipient, in the sender's name, a "send-forger": either that Send at
// its pt2pt sequence number with one bit of its sealed bytes flipped,
// racing the real one, or the Send as it is under one of the sender's next
// sequence numbers, where it arrives first. Sealing in the sender's name
// takes the key and nonce the sender's encrypt layer hands its sealer
// next (every member can derive every sender's key), and the sender's own
// datagram is lost, as the network loses one, so that every nonce is
// sealed once.
//
// The forgery never opens at the recipient (private counts "auth" or
// "replay"), and when pt2pt took it in the place of the real message,
// private refuses it, pt2pt forgets it and fetches the real one again: the
// Checker holds the recipient to every Send, in order, exactly once, with
// the bytes sent, so a real Send lost to a forgery is a violation (a FIFO
// gap, or a Send undelivered at the deadline). Each attempt is counted by
// how the recipient took it: a drop counter of its stack, "duplicate"
// when it had the real message already, or "held" when pt2pt keeps it
// out of order, to be refused once the messages before it arrive.

// AttackSendForger is the kind of the insiders that forge a Send between
// two other members.
const AttackSendForger = "send-forger"

// sendMsg is a Send opened from a recorded datagram: its pt2pt sequence
// number and the private layer's message.
type sendMsg struct {
	seq uint64
	msg []byte
}

// armSendForgery has an insider forge the next Send a member sends
// another (armSendFrom).
func (r *run) armSendForgery() { r.data.wantSend = true }

// watchSend shows an insider, while one waits for a Send to forge, a data
// datagram a member sends.
func (r *run) watchSend(from, to netip.AddrPort, data []byte) {
	if r.data.wantSend && r.armSendFrom(from, to, data) {
		r.data.wantSend = false
	}
}

// armSendFrom has an insider of the view of the datagram that member from
// sends member to, if it holds Sends, prepare a forged one in from's name
// for to, sent with from's next datagram.
func (r *run) armSendFrom(from, to netip.AddrPort, data []byte) bool {
	a, d := r.sec, r.data
	s, ok := r.byAddr[from]
	q, ok2 := r.byAddr[to]
	if !ok || !ok2 || s == q {
		return false
	}
	v := r.procs[s].m.View()
	ks := d.current[s]
	if len(v.Members) < 3 || ks == nil || ks.ended || ks.view != v.ID.Wire() || d.armed[s] != nil || r.procs[q].state != StateUp {
		return false
	}
	trank := v.Rank(r.procs[q].self)
	if trank < 0 {
		return false
	}
	var insiders []int
	for _, e := range v.Members {
		if i, ok := r.byEnd[e]; ok && i != s && i != q && r.procs[i].state == StateUp && d.current[i] != nil {
			insiders = append(insiders, i)
		}
	}
	if len(insiders) == 0 {
		return false
	}
	i := insiders[a.rng.IntN(len(insiders))]
	k := d.current[i]
	if k.ended || k.view != ks.view || r.procs[i].m.View().ID != v.ID {
		return false
	}
	var sends []sendMsg
	for _, fr := range k.openFrames(r, v, dataRecord{from: from, to: to, data: data}) {
		b := wire.NewReader(fr.Msg.Body)
		seq := b.Uvarint()
		if fr.Type != layers.ESend || b.Err() != nil || b.Len() == 0 {
			continue
		}
		sends = append(sends, sendMsg{seq: seq, msg: b.Rest()})
	}
	if len(sends) == 0 {
		return false
	}
	c := sends[a.rng.IntN(len(sends))]
	f := &forgery{kind: AttackSendForger, view: v.ID, target: q, trank: trank, origin: ks.rank, victim: s, seq: c.seq, msg: slices.Clone(c.msg), insider: i}
	if a.rng.IntN(2) == 0 {
		n := min(len(f.msg), 16) // the AEAD's tag
		f.msg[len(f.msg)-n+a.rng.IntN(n)] ^= 1 << a.rng.IntN(8)
	} else {
		f.seq += 1 + uint64(a.rng.IntN(3))
	}
	d.armed[s] = f
	return true
}

// sendForgeryReason is how target p took a Send forgery its stack
// counted no drop for.
func (r *run) sendForgeryReason(p int, before map[string]uint64, reason string) string {
	if reason != "" {
		return reason
	}
	if r.controlCounters(p)["pt2pt.duplicates"] > before["pt2pt.duplicates"] {
		return "duplicate"
	}
	return "held"
}
