package sim

import (
	"bytes"
	"maps"
	"math"
	"net/netip"
	"slices"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/secure"
)

// A secured run's stacks protect the data plane as a secured conclave
// group's do: encrypt directly above bottom seals every datagram under the
// view's epoch, private directly above pt2pt seals each Send for its
// recipient alone, and with Config.SenderAuth sign directly above mnak
// signs every multicast. Every member's encrypt layer seals through a
// sealer of the run's (encrypt.Config.NewSealer), which wraps encrypt's own
// and:
//
//   - records every (epoch, sender's leaf, generation, counter) it seals:
//     the key is the epoch's sender's generation key, the nonce its
//     generation nonce XOR the counter, so a pair sealed twice is a key and
//     nonce used twice, which the Checker reports (Checker.Sealed);
//   - with Config.Attackers, keeps the sealer when its view ends instead of
//     erasing its keys, as a member that kept every key it held would: the
//     last keepSealers views' of every process. Then ex-members (processes
//     that left or crashed) try their kept keys on the group's later data
//     datagrams, recorded from the wire, and joiners on the datagrams
//     recorded before their first view: every sender's key of every kept
//     view, on every datagram of a view that is not that one. Each
//     attempt is counted ("data unreadable"); a datagram that opens is a
//     violation;
//   - insiders open, with the keys of a view they were in, the recorded
//     datagrams of that view that one member sent another (a Send, the
//     encrypt layer's destination naming the other), and look in what
//     opens for the Sends of the workload: private must have sealed them
//     for their recipient alone ("send unreadable"); one found is a
//     violation;
//   - outsiders send recorded data datagrams again, later (so out of
//     order too), from their sender's address to their destination, as
//     recorded ("data-replay") or with one bit flipped past the bottom
//     header ("data-forger"): each must be dropped; an altered one that a
//     member takes is a violation, and the Checker reports any message
//     delivered twice or that no member sent.

// securedLayers is names with encrypt above bottom, private above pt2pt
// unless plainSends, and with senderAuth sign above mnak.
func securedLayers(names []string, senderAuth, plainSends bool) []string {
	out := slices.Clone(names)
	insert := func(name, above string) {
		if i := slices.Index(out, above); i >= 0 {
			out = slices.Insert(out, i+1, name)
		}
	}
	insert("encrypt", "bottom")
	if senderAuth {
		insert("sign", "mnak")
	}
	if !plainSends {
		insert("private", "pt2pt")
	}
	return out
}

// stackOptions are process p's stacks' options: in a secured run, its
// encrypt layer's sealer is the run's.
func (r *run) stackOptions(p int) compose.Options {
	if !r.cfg.Secure {
		return compose.Options{}
	}
	return compose.Options{Layers: map[string]any{"encrypt": encrypt.Config{
		NewSealer: func(keys encrypt.Keys, rank, n int) (encrypt.Sealer, error) { return r.newSealer(p, keys, rank, n) },
	}}}
}

// keepSealers is how many views' sealers a process keeps for the attacks.
const keepSealers = 4

// dataPlane is the run's record of the data plane's keys and nonces.
type dataPlane struct {
	sealed map[sealedNonce]int // the process that sealed each
	kept   map[int][]*keptSealer
	first  map[int]time.Duration // when each process first had keys
	tape   []dataRecord          // data datagrams from the wire
	tapeAt int
	taped  int
	// With the attackers (signforger.go, sendforger.go): each process's
	// sealer of its current view, whether an insider waits for a
	// multicast (want) or a Send (wantSend) to forge, the forgeries to
	// be sent with each process's next datagram and those sent.
	current  map[int]*keptSealer
	want     bool
	wantSend bool
	armed    map[int]*forgery
	flying   map[injectKey]*forgery
}

type sealedNonce struct {
	epoch        [32]byte
	leaf         uint32
	gen, counter uint32
}

// dataRecord is a data datagram recorded from the wire.
type dataRecord struct {
	at       time.Duration
	from, to netip.AddrPort
	data     []byte
}

const (
	dataTapeSize  = 64
	dataTapeEvery = 16
)

func newDataPlane() *dataPlane {
	return &dataPlane{
		sealed:  make(map[sealedNonce]int),
		kept:    make(map[int][]*keptSealer),
		first:   make(map[int]time.Duration),
		current: make(map[int]*keptSealer),
		armed:   make(map[int]*forgery),
		flying:  make(map[injectKey]*forgery),
	}
}

// keptSealer is the sealer of one process's view.
type keptSealer struct {
	r     *run
	p     int
	s     encrypt.Sealer
	epoch [32]byte
	leaf  uint32
	view  uint64 // the view's id on the wire
	n     int
	rank  int
	ended bool
}

// newSealer is process p's encrypt.Config.NewSealer. The stack is built
// right after the participant installed the view, whose epoch names the
// keys.
func (r *run) newSealer(p int, keys encrypt.Keys, rank, n int) (encrypt.Sealer, error) {
	k := &keptSealer{r: r, p: p, s: encrypt.NewBlockSealer(keys, rank, n), n: n, rank: rank}
	if ek, ok := keys.(*secure.EpochKeys); ok {
		k.leaf = ek.Leaf
	}
	if sp, ok := r.procs[p].part.(*securePart); ok && sp.installed != nil {
		k.epoch, _ = sp.EpochDigest(*sp.installed)
		k.view = sp.installed.Wire()
	}
	if r.sec != nil {
		// The stack erases the epoch's secret tree when the view ends, and
		// the sealer takes each sender's keys from it at its first
		// datagram: an attacker copies them all first. Opening nothing
		// makes the sealer derive every sender's first generation, the
		// only one a simulated view reaches.
		var tag [encrypt.Overhead]byte
		for x := range n {
			if x != rank {
				k.s.Open(nil, x, 0, 0, nil, tag[:])
			}
		}
	}
	if _, ok := r.data.first[p]; !ok {
		r.data.first[p] = r.now
	}
	r.data.current[p] = k
	return k, nil
}

func (k *keptSealer) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	if f := k.r.data.armed[k.p]; f != nil {
		delete(k.r.data.armed, k.p)
		if k.r.forge(k, f, gen, counter, aad) {
			// The forgery took this nonce: the member's datagram is not
			// sent, as if the network had lost it.
			return dst, errNonceTaken
		}
	}
	k.record(gen, counter)
	return k.s.Seal(dst, gen, counter, aad, plaintext)
}

// record records that k seals under (gen, counter).
func (k *keptSealer) record(gen, counter uint32) {
	n := sealedNonce{epoch: k.epoch, leaf: k.leaf, gen: gen, counter: counter}
	if k.r.cfg.sharedSenderKey {
		n.leaf = 0
	}
	k.r.checker.Sealed(k.r.data, k.p, n)
}

func (k *keptSealer) Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	return k.s.Open(dst, sender, gen, counter, aad, ciphertext)
}

func (k *keptSealer) Retire(sender int, gen uint32) { k.s.Retire(sender, gen) }

// Release keeps the keys for the attacks, when there are attackers, and
// erases those of the process's oldest kept view.
func (k *keptSealer) Release() {
	if k.r.data.current[k.p] == k {
		delete(k.r.data.current, k.p)
	}
	if k.r.sec == nil || k.ended {
		k.s.Release()
		return
	}
	k.ended = true
	d := k.r.data
	kept := d.kept[k.p]
	if len(kept) == keepSealers {
		kept[0].s.Release()
		kept = append(kept[:0], kept[1:]...)
	}
	d.kept[k.p] = append(kept, k)
}

// Sealed records that process p sealed under nonce n, and reports a
// (key, nonce) pair sealed twice.
func (c *Checker) Sealed(d *dataPlane, p int, n sealedNonce) {
	if q, ok := d.sealed[n]; ok {
		c.violate("member %d sealed generation %d counter %d of leaf %d in epoch %x, which member %d sealed before: a key and nonce used twice",
			p, n.gen, n.counter, n.leaf, n.epoch[:8], q)
		return
	}
	d.sealed[n] = p
}

// recordData records, now and then, a data datagram a member sent.
func (r *run) recordData(from, to netip.AddrPort, data []byte) {
	d := r.data
	if len(data) == 0 || data[0] == membership.Magic {
		return
	}
	if r.cfg.SenderAuth {
		r.watchCast(from, to, data)
	}
	r.watchSend(from, to, data)
	if d.taped++; d.taped%dataTapeEvery != 0 {
		return
	}
	rec := dataRecord{at: r.now, from: from, to: to, data: bytes.Clone(data)}
	if len(d.tape) < dataTapeSize {
		d.tape = append(d.tape, rec)
	} else {
		d.tape[d.tapeAt] = rec
		d.tapeAt = (d.tapeAt + 1) % dataTapeSize
	}
}

// readData has an ex-member or a joiner try its kept keys on a recorded
// data datagram of a view it did not hold them for.
func (r *run) readData() {
	a, d := r.sec, r.data
	if len(d.tape) == 0 {
		return
	}
	rec := d.tape[a.rng.IntN(len(d.tape))]
	var cands []int
	kinds := map[int]string{}
	for _, e := range a.ex {
		if len(d.kept[e.p]) > 0 && r.attacks(AttackExMember) {
			cands = append(cands, e.p)
			kinds[e.p] = AttackExMember
		}
	}
	for p := range r.procs {
		if t, ok := d.first[p]; ok && (t > rec.at || r.cfg.readOwnViews) && kinds[p] == "" && len(d.kept[p]) > 0 && r.attacks(AttackJoiner) {
			cands = append(cands, p)
			kinds[p] = AttackJoiner
		}
	}
	if len(cands) == 0 {
		return
	}
	p := cands[a.rng.IntN(len(cands))]
	for _, k := range d.kept[p] {
		if opened, ok := k.tryOpen(rec.data, r.cfg.readOwnViews); ok {
			r.checker.violate("%s: member %d opened a data datagram of view %x recorded at %v with its keys of view %x", kinds[p], p, opened, rec.at, k.view)
			a.attempts[attemptKey{kinds[p], "data opened"}]++
			return
		}
	}
	a.attempts[attemptKey{kinds[p], "data unreadable"}]++
}

// tryOpen tries every sender's key of k's view on a data datagram of
// another view, rebuilding the additional data as the encrypt layer does
// (its wire format is public) for every destination. It reports the
// datagram's view and whether it opened.
func (k *keptSealer) tryOpen(data []byte, ownView bool) (uint64, bool) {
	hdr, err := bottom.Parse(data)
	if err != nil || hdr.View == k.view && !ownView {
		return hdr.View, false
	}
	rd := wire.NewReader(data[hdr.Len:])
	flag := rd.Byte()
	gen := rd.UvarintMax(math.MaxUint32)
	counter := rd.UvarintMax(keying.DatagramsPerBlock - 1)
	if rd.Err() != nil || flag > 1 || rd.Len() <= encrypt.Overhead || gen > encrypt.MaxGenerationsAhead {
		return hdr.View, false
	}
	sealed := data[len(data)-rd.Len():]
	dests := []int{0}
	if flag == 1 {
		dests = dests[:0]
		for rank := range k.n {
			dests = append(dests, rank+1)
		}
	}
	for _, mode := range []byte{'P', 'I'} {
		for _, dest := range dests {
			for _, aad := range additionalData(mode, data[:hdr.Len], uint64(dest)) {
				ct := sealed
				if mode == 'I' {
					// The payload travels in clear, authenticated.
					aad = append(aad, sealed[:len(sealed)-encrypt.Overhead]...)
					ct = sealed[len(sealed)-encrypt.Overhead:]
				}
				for sender := range k.n {
					if _, err := k.s.Open(nil, sender, uint32(gen), uint32(counter), aad, ct); err == nil {
						return hdr.View, true
					}
				}
			}
		}
	}
	return hdr.View, false
}

// injectData sends a member a recorded data datagram again, as recorded
// or altered, from its sender's address.
func (r *run) injectData() {
	a, d := r.sec, r.data
	if len(d.tape) == 0 {
		return
	}
	rec := d.tape[a.rng.IntN(len(d.tape))]
	if p, ok := r.byAddr[rec.to]; !ok || r.procs[p].state != StateUp {
		return
	}
	hdr, err := bottom.Parse(rec.data)
	if err != nil {
		return
	}
	kind, data := AttackDataReplay, rec.data
	if a.rng.IntN(2) == 0 && r.attacks(AttackDataForger) || !r.attacks(AttackDataReplay) {
		kind, data = AttackDataForger, bytes.Clone(rec.data)
		i := hdr.Len + a.rng.IntN(len(data)-hdr.Len)
		data[i] ^= 1 << a.rng.IntN(8)
	}
	r.logf("attack: %s of a data datagram recorded at %v, %v → %v", kind, rec.at, rec.from, rec.to)
	r.injectForged(kind, rec.from, rec.to, data)
}

// readSend has an insider open a recorded datagram of its own view that
// one member sent another, and look for a Send of the workload in it.
func (r *run) readSend() {
	a, d := r.sec, r.data
	if len(d.tape) == 0 {
		return
	}
	start := a.rng.IntN(len(d.tape))
	for i := range d.tape {
		rec := d.tape[(start+i)%len(d.tape)]
		hdr, err := bottom.Parse(rec.data)
		if err != nil || len(rec.data) <= hdr.Len || rec.data[hdr.Len] != 1 {
			continue // not a datagram to one member
		}
		to, ok := r.byAddr[rec.to]
		if !ok {
			continue
		}
		for _, p := range slices.Sorted(maps.Keys(d.kept)) {
			if p == to {
				continue
			}
			for _, k := range d.kept[p] {
				if k.view != hdr.View || uint64(k.rank) == hdr.Sender || k.p == to {
					continue
				}
				plain, ok := k.openSend(rec.data, hdr)
				switch {
				case !ok:
					a.attempts[attemptKey{AttackInsider, "send unopened"}]++
				case r.holdsSend(plain):
					a.attempts[attemptKey{AttackInsider, "send read"}]++
					r.checker.violate("insider: member %d read a Send from %v to %v in view %x", p, rec.from, rec.to, hdr.View)
				default:
					a.attempts[attemptKey{AttackInsider, "send unreadable"}]++
				}
				return
			}
		}
	}
}

// openSend opens, with k's keys of the datagram's own view, a datagram
// sent to one member, for every rank it may have been sent to.
func (k *keptSealer) openSend(data []byte, hdr bottom.Header) ([]byte, bool) {
	rd := wire.NewReader(data[hdr.Len:])
	rd.Byte()
	gen := rd.UvarintMax(encrypt.MaxGenerationsAhead)
	counter := rd.UvarintMax(keying.DatagramsPerBlock - 1)
	if rd.Err() != nil || rd.Len() <= encrypt.Overhead || hdr.Sender >= uint64(k.n) {
		return nil, false
	}
	sealed := data[len(data)-rd.Len():]
	for dest := range k.n {
		for _, aad := range additionalData('P', data[:hdr.Len], uint64(dest+1)) {
			if plain, err := k.s.Open(nil, int(hdr.Sender), uint32(gen), uint32(counter), aad, sealed); err == nil {
				return plain, true
			}
		}
	}
	return nil, false
}

// holdsSend reports whether b holds a Send of the workload: its header
// and the first filler bytes that follow, as Payload makes them.
func (r *run) holdsSend(b []byte) bool {
	for i := 0; i+2 <= len(b); i++ {
		if b[i] != payloadMagic || Kind(b[i+1]) != KindSend {
			continue
		}
		id, ok := ParsePayload(b[i:])
		if !ok {
			continue
		}
		want := Payload(r.cfg.Seed, id, 64)
		n := min(len(want), len(b)-i)
		if n >= len(Payload(r.cfg.Seed, id, 0))+8 && bytes.Equal(b[i:i+n], want[:n]) {
			return true
		}
	}
	return false
}
