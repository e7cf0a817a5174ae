package sim

import (
	"errors"
	"math"
	"net/netip"
	"slices"
	"strings"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/bundle"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/membership"
)

// With Config.SenderAuth and Config.Attackers, insiders forge and alter
// other members' multicasts, the attack that the sign layer exists for:
// an admitted member holds the epoch's keys, so its datagrams pass the
// encrypt layer, and the reliable multicast layer (mnak) lets any member
// retransmit any origin's messages. Now and then (SecureAttackEvery) a
// member opens, with its own keys, the next datagram of its view that
// another member sends with multicasts in it (casts, or retransmissions of
// them) and sends a third member at once, as its own retransmission
// (mnak's RETRANS: origin, sequence number, message), racing the real one,
// either
//
//   - "sign-alter": that message of its origin at its sequence number,
//     with one bit of its last bytes (the application's) flipped; or
//   - "sign-forger": a message claiming the origin at another of its
//     sequence numbers, some already used, some it has yet to use: that
//     message itself moved there, or another member's (the insider's
//     own included) with its signature.
//
// The datagram is sealed as the encrypt layer seals the insider's own:
// its key, and the generation and counter its encrypt layer hands its
// sealer next, which the run's sealer (dataplane.go) gives to the
// forgery instead of to the member's datagram, lost as the network loses
// one. A sender's replay window at each receiver takes only numbers near
// its newest, so any other number the insider could seal under is either
// one it sealed before (a key and nonce used twice, which the nonce check
// would rightly report) or one far ahead, after which every receiver
// would refuse the insider's own datagrams as replays; another member's
// key (every member can derive every sender's) has the same choice. So
// every nonce stays sealed once, and the honest stream goes on.
//
// Each attempt is counted by kind and how the target took it: a drop
// counter of its stack (sign.drop.forged when the signature did not
// verify, sign.drop.bad_proof, sign.drop.malformed, bottom.drop.other_view
// after a view change, …), "duplicate" when the target had the real
// message already, or "held" when it keeps the forgery, in mnak's window
// until the messages before it arrive or in sign's batch until its
// signature does: either way sign checks it before anything goes up. The
// Checker reports any multicast delivered that its claimed sender did not
// multicast at that index (its bytes are recorded when sent).
//
// A forgery the target keeps takes the place of the real message in
// mnak's stream there, and mnak takes the real one as a duplicate; sign
// refuses what it holds of the stream from there on once the batch fails
// (or does not cover what is held, or stability or the view change's cut
// shows the copy held in the signature's place overtaken), and mnak
// forgets those messages and fetches them again (layers/sign says so).
// The Checker excuses nothing: the target must deliver the victim's
// whole stream, as the other members do, in the same order under total
// order. The run counts the forgeries kept (Result.Denied) and the sign
// layers' refusals (Result.SignRefused). A forgery at the victim's next
// unused sequence number, which mnak delivers up at once, is held by sign
// and falls outside the view change's cut, which for a surviving origin
// is the count the origin reported: the view change goes on, and sign
// drops it at the view's end.

// Kinds of the insiders that attack sender authentication.
const (
	AttackSignForger = "sign-forger" // a multicast claiming another member at another sequence number
	AttackSignAlter  = "sign-alter"  // another member's multicast with its bytes altered
)

// errNonceTaken is the run's sealer's answer to a member's datagram whose
// nonce a forgery took.
var errNonceTaken = errors.New("sim: nonce taken by a forgery")

// mnak's RETRANS marker (its documented header grammar).
const markRetrans = 2

// forgery is a datagram an insider is to send as soon as its encrypt
// layer seals its next one.
type forgery struct {
	kind    string
	view    membership.ViewID
	target  int    // process
	trank   int    // its rank in view
	origin  int    // the claimed origin's rank
	victim  int    // its process
	seq     uint64 // the claimed sequence number
	msg     []byte // the message as mnak keeps it
	insider int
}

// castMsg is a multicast opened from a recorded datagram.
type castMsg struct {
	origin int
	seq    uint64
	msg    []byte
}

// armForgery has an insider forge or alter the next multicast a member
// sends (armFrom).
func (r *run) armForgery() { r.data.want = true }

// watchCast shows an insider, while one waits for a multicast to forge
// or alter, a data datagram a member sends.
func (r *run) watchCast(from, to netip.AddrPort, data []byte) {
	if r.data.want && r.armFrom(from, to, data) {
		r.data.want = false
	}
}

// armFrom has an insider of the view of the datagram that member from
// sends to, if it holds multicasts, prepare a forged or altered one for a
// third member, which it sends with its own next datagram: so the
// forgery races the real message, as an insider watching the wire would
// make it.
func (r *run) armFrom(from, to netip.AddrPort, data []byte) bool {
	a, d := r.sec, r.data
	s, ok := r.byAddr[from]
	if !ok {
		return false
	}
	v := r.procs[s].m.View()
	var insiders []int
	for _, e := range v.Members {
		if i, ok := r.byEnd[e]; ok && i != s && r.procs[i].state == StateUp && d.current[i] != nil && d.armed[i] == nil {
			insiders = append(insiders, i)
		}
	}
	if len(insiders) == 0 || len(v.Members) < 3 {
		return false
	}
	i := insiders[a.rng.IntN(len(insiders))]
	k := d.current[i]
	if k.ended || k.view != v.ID.Wire() || r.procs[i].m.View().ID != v.ID {
		return false
	}
	found := k.openCasts(r, v, dataRecord{from: from, to: to, data: data})
	if len(found) == 0 {
		return false
	}
	c := found[a.rng.IntN(len(found))]
	f := &forgery{view: v.ID, origin: c.origin, seq: c.seq, insider: i}
	switch {
	case c.origin == k.rank:
		return false // the insider's own: retransmitting it is its right
	case a.rng.IntN(2) == 0 && r.attacks(AttackSignAlter) || !r.attacks(AttackSignForger):
		f.kind = AttackSignAlter
		f.msg = slices.Clone(c.msg)
		n := min(len(f.msg), 32)
		f.msg[len(f.msg)-n+a.rng.IntN(n)] ^= 1 << a.rng.IntN(8)
	default:
		f.kind = AttackSignForger
		// Sequence numbers already used (before c's) and still to come.
		delta := a.rng.IntN(13) - 4
		if delta >= 0 {
			delta++
		}
		if delta < 0 && c.seq < uint64(-delta) {
			delta = -delta
		}
		f.seq = uint64(int64(c.seq) + int64(delta))
		f.msg = slices.Clone(found[a.rng.IntN(len(found))].msg)
	}
	var targets []int
	for t := range v.Members {
		if t != k.rank && t != c.origin {
			targets = append(targets, t)
		}
	}
	f.trank = targets[a.rng.IntN(len(targets))]
	if f.target, ok = r.byEnd[v.Members[f.trank]]; !ok || r.procs[f.target].state != StateUp {
		return false
	}
	f.victim = r.byEnd[v.Members[c.origin]]
	d.armed[i] = f
	return true
}

// openCasts opens, with k's keys, a recorded datagram of k's view and
// returns the multicasts in it: casts as their origin sent them, and
// retransmissions of them.
func (k *keptSealer) openCasts(r *run, v membership.View, rec dataRecord) []castMsg {
	var out []castMsg
	for _, fr := range k.openFrames(r, v, rec) {
		b := wire.NewReader(fr.Msg.Body)
		c := castMsg{origin: fr.Peer}
		switch fr.Type {
		case layers.ECast:
		case layers.ESendUnrel:
			if b.Byte() != markRetrans {
				continue
			}
			c.origin = int(b.UvarintMax(uint64(k.n - 1)))
		default:
			continue
		}
		c.seq = b.Uvarint()
		if b.Err() != nil || b.Len() == 0 {
			continue
		}
		c.msg = b.Rest()
		out = append(out, c)
	}
	return out
}

// openFrames opens, with k's keys, a recorded datagram of k's view that
// another member sent, and returns the messages in it, unbundled.
func (k *keptSealer) openFrames(r *run, v membership.View, rec dataRecord) []layers.Event {
	hdr, err := bottom.Parse(rec.data)
	if err != nil || hdr.View != k.view || hdr.Sender >= uint64(k.n) || int(hdr.Sender) == k.rank {
		return nil
	}
	rd := wire.NewReader(rec.data[hdr.Len:])
	flag := rd.Byte()
	gen := rd.UvarintMax(math.MaxUint32)
	counter := rd.UvarintMax(keying.DatagramsPerBlock - 1)
	if rd.Err() != nil || flag > 1 || rd.Len() <= encrypt.Overhead {
		return nil
	}
	dest := 0
	if flag == 1 {
		q, ok := r.byAddr[rec.to]
		if !ok || v.Rank(r.procs[q].self) < 0 {
			return nil
		}
		dest = v.Rank(r.procs[q].self) + 1
	}
	var plain []byte
	for _, aad := range additionalData('P', rec.data[:hdr.Len], uint64(dest)) {
		if plain, err = k.s.Open(nil, int(hdr.Sender), uint32(gen), uint32(counter), aad, rd.Rest()); err == nil {
			break
		}
	}
	if err != nil {
		return nil
	}
	frames := []layers.Event{{Type: hdr.Type, Peer: int(hdr.Sender), Msg: layers.NewMessage(plain)}}
	if hdr.Type == layers.EBundle {
		if frames, err = bundle.Split(plain, int(hdr.Sender), nil); err != nil {
			return nil
		}
	}
	return frames
}

// forge sends forgery f as insider k's datagram under (gen, counter),
// which its encrypt layer just assigned to a datagram with additional data
// aad. It reports whether it did; if not, the nonce is the member's.
func (r *run) forge(k *keptSealer, f *forgery, gen, counter uint32, aad []byte) bool {
	if k.ended || f.view.Wire() != k.view || len(aad) == 0 || aad[0] != 'P' || r.procs[f.target].state != StateUp {
		return false
	}
	// A multicast goes as the insider's own retransmission of it; a Send
	// in its sender's name, as pt2pt's message of that sequence number
	// (sendforger.go), with the key and nonce the sender's sealer was
	// handing its own datagram.
	typ := layers.ESendUnrel
	plain := []byte{markRetrans}
	plain = wire.AppendUvarint(plain, uint64(f.origin))
	from := r.procs[f.insider].self.Addr
	if f.kind == AttackSendForger {
		typ, plain, from = layers.ESend, nil, r.procs[f.victim].self.Addr
	}
	plain = wire.AppendUvarint(plain, f.seq)
	plain = append(plain, f.msg...)
	hdr := []byte{bottom.Version}
	hdr = wire.AppendUint64(hdr, group)
	hdr = wire.AppendUvarint(hdr, k.view)
	hdr = wire.AppendUvarint(hdr, uint64(k.rank))
	hdr = append(hdr, byte(typ))
	fad := additionalData('P', hdr, uint64(f.trank+1))[0]
	if isPadded(aad) {
		fad = pad(fad)
	}
	data := append(hdr, 1) // to the receiver alone
	data = wire.AppendUvarint(data, uint64(gen))
	data = wire.AppendUvarint(data, uint64(counter))
	data, err := k.s.Seal(data, gen, counter, fad, plain)
	if err != nil {
		return false
	}
	k.record(gen, counter)
	to := r.procs[f.target].self.Addr
	r.logf("attack: insider m%d sends m%d a %s of m%d's message #%d", f.insider, f.target, f.kind, f.victim, f.seq)
	if len(r.data.flying) >= maxPending {
		clear(r.data.flying)
	}
	r.data.flying[injectKey{from, to, hash(data)}] = f
	r.injectForged(f.kind, from, to, data)
	return true
}

// forgeryReason is how target p took a forgery, given the drop reason its
// counters show, and counts it kept when p took it in the place of a
// real message, which p must then have refused and fetched again.
func (r *run) forgeryReason(p int, before map[string]uint64, reason string, sent injectKey) string {
	if reason == "" {
		reason = "held"
		if r.controlCounters(p)["mnak.duplicates"] > before["mnak.duplicates"] {
			reason = "duplicate"
		}
	}
	if f := r.data.flying[sent]; f != nil && (reason == "held" || strings.HasPrefix(reason, "sign.")) {
		r.kept++
	}
	return reason
}

// tallySign adds up the sign counters of pr's stack once a new one has
// replaced it: a member's counters are its current stack's.
func (r *run) tallySign(pr *proc) {
	st := pr.m.Stack()
	if st == pr.stack {
		return
	}
	if pr.stack != nil {
		r.addSign(pr.stack)
	}
	pr.stack = st
}

func (r *run) addSign(st *layers.Stack) {
	for _, c := range st.Counters() {
		switch {
		case c.Layer != "sign":
		case c.Name == "batches_verified":
			r.signVerified += c.Value
		case c.Name == "refused":
			r.signRefused += c.Value
		}
	}
}
