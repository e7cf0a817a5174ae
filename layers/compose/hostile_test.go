package compose_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/mnak"
	"github.com/conclave-go/conclave/layers/pt2pt"
)

// hostileGroup is three stacks on a perfect network under attack: the
// attacker injects hostile datagrams into member 0 and everything member 0
// sends is checked against the retransmission rules.
type hostileGroup struct {
	t      testing.TB
	total  bool
	stacks []*layers.Stack
	got    [][]layers.Delivery
	now    time.Duration
	lose   func(from, to int) bool
	// retransmissions member 0 sent, by requester, origin (−1 for its own
	// sends) and sequence number: when
	sent    map[retransKey][]time.Duration
	perPeer map[int][]time.Duration // mnak retransmissions by requester
	scratch []layers.Event
	found   []hostile.Retrans
}

type retransKey struct {
	to     int
	origin int
	seq    uint64
}

func newHostileGroup(t testing.TB, total bool) *hostileGroup {
	names := compose.Reliable
	if total {
		names = compose.Total
	}
	g := &hostileGroup{t: t, total: total, got: make([][]layers.Delivery, 3), sent: map[retransKey][]time.Duration{}, perPeer: map[int][]time.Duration{}}
	for r := range 3 {
		s, err := compose.Build(layers.Config{View: layers.View{Group: 7, ID: 11, N: 3, Rank: r}, Seed: 1}, names, compose.Options{})
		if err != nil {
			t.Fatal(err)
		}
		g.stacks = append(g.stacks, s)
	}
	return g
}

// collect takes stack from's outputs, delivering its packets, and checks
// member 0's retransmissions.
func (g *hostileGroup) collect(from int) {
	s := g.stacks[from]
	s.Flush()
	rd := s.Ready()
	for _, d := range rd.Deliveries {
		d.Data = bytes.Clone(d.Data)
		g.got[from] = append(g.got[from], d)
	}
	for _, p := range rd.Packets {
		for to, dst := range g.stacks {
			if to == from || (p.To != layers.AllPeers && p.To != to) || (g.lose != nil && g.lose(from, to)) {
				continue
			}
			if from == 0 {
				g.account(to, p.Data)
			}
			dst.Receive(bytes.Clone(p.Data))
		}
	}
	s.Advance()
}

// account records member 0's retransmissions to requester to and checks
// the rules: each held message at most once per NAK interval to one
// requester (pt2pt may add one resend of its own on a timeout), and at
// most the budget per interval to one requester.
func (g *hostileGroup) account(to int, data []byte) {
	g.found, g.scratch = hostile.Retransmissions(data, g.found[:0], g.scratch)
	for _, r := range g.found {
		k := retransKey{to, r.Origin, r.Seq}
		times := append(g.sent[k], g.now)
		g.sent[k] = times
		// A member counts intervals from its first answer: within any
		// span of one interval it may answer twice.
		allowed := 2
		if r.Origin < 0 {
			allowed = 3
		}
		if recent := countSince(times, g.now-mnak.DefaultNakInterval); recent > allowed {
			g.t.Fatalf("member 0 retransmitted %+v to member %d %d times within %v", r, to, recent, mnak.DefaultNakInterval)
		}
		if r.Origin >= 0 {
			pp := append(g.perPeer[to], g.now)
			g.perPeer[to] = pp
			if recent := countSince(pp, g.now-mnak.DefaultNakInterval); recent > 2*mnak.DefaultRetransBudget {
				g.t.Fatalf("member 0 retransmitted %d casts to member %d within %v, over twice the budget of %d", recent, to, mnak.DefaultNakInterval, mnak.DefaultRetransBudget)
			}
		}
	}
}

// countSince counts the times after since (the list is in order).
func countSince(times []time.Duration, since time.Duration) int {
	k := 0
	for i := len(times) - 1; i >= 0 && times[i] > since; i-- {
		k++
	}
	return k
}

// round advances the clock by a millisecond and moves every stack's
// packets once.
func (g *hostileGroup) round() {
	g.now += time.Millisecond
	for from, s := range g.stacks {
		s.Tick(g.now)
		g.collect(from)
	}
	g.checkFootprints()
}

func (g *hostileGroup) checkFootprints() {
	for r, s := range g.stacks {
		if f, b := s.Footprint(), s.FootprintBound(); f > b {
			g.t.Fatalf("member %d holds %d bytes, over its bound of %d", r, f, b)
		}
	}
}

// target describes member 0 as an eavesdropper sees it.
func (g *hostileGroup) target(safe bool) *hostile.Target {
	s := g.stacks[0]
	m := s.Layer("mnak").(*mnak.Layer)
	t := &hostile.Target{Group: 7, View: 11, N: 3, Rank: 0, Total: g.total, MaxDatagram: layers.DefaultMaxDatagram, Safe: safe}
	for o := range 3 {
		low, next, known := m.Progress(o)
		t.Casts = append(t.Casts, hostile.Window{Low: low, Next: next, Known: known, Size: mnak.DefaultMaxHeld, Ahead: 1 << 12})
		// pt2pt does not tell where its incoming streams are: only the
		// window's size is known, and with safe only huge numbers go.
		t.Sends = append(t.Sends, hostile.Window{Size: 2 * pt2pt.DefaultWindow, Ahead: 1 << 32})
	}
	return t
}

// warmUp runs some traffic with losses, so that member 0 holds messages
// out of order and has something to retransmit.
func (g *hostileGroup) warmUp() {
	k := 0
	g.lose = func(from, to int) bool { k++; return k%5 == 0 }
	for i := range 30 {
		g.stacks[i%3].Cast([]byte(fmt.Sprint("warm ", i)))
		g.stacks[1].Send(0, []byte(fmt.Sprint("send ", i)))
		g.stacks[0].Send(1+i%2, []byte(fmt.Sprint("send ", i)))
		if i%10 == 0 {
			g.round()
		}
	}
	g.round()
	g.lose = nil
}

// stillAlive checks that member 0 still works after the attack: its
// multicast reaches every member (with strict; only itself otherwise: an
// in-window forgery in a member's name, which only authentication can
// stop, may stall that member, as its own lies could).
func (g *hostileGroup) stillAlive(strict bool) {
	for r := range g.got {
		g.got[r] = g.got[r][:0]
	}
	g.stacks[0].Cast([]byte("still alive"))
	for range 40 {
		g.round()
	}
	for r := range 3 {
		if !strict && r > 0 {
			break
		}
		found := false
		for _, d := range g.got[r] {
			found = found || (d.From == 0 && string(d.Data) == "still alive")
		}
		if !found {
			g.t.Fatalf("member %d did not deliver member 0's multicast after the attack; member 0's counters: %v", r, g.stacks[0].Counters())
		}
	}
}

// attack injects hostile datagrams, steered by src, into member 0 from
// members 1 and 2 (by the sender rank in the header: a stack does not see
// addresses).
func (g *hostileGroup) attack(src hostile.Source, safe bool, rounds int) {
	var buf []byte
	for range rounds {
		if src.IntN(2) == 0 {
			g.round()
		}
		from := 1 + src.IntN(2)
		_, buf = g.target(safe).Datagram(src, from, hostile.Kind(src.IntN(hostile.Kinds+1)), buf[:0])
		g.stacks[0].Receive(bytes.Clone(buf))
		g.collect(0)
		g.checkFootprints()
	}
}

// FuzzHostileStack attacks a member of a whole group with hostile
// datagrams whose structure and numbers the fuzzer's input chooses
// (internal/hostile): sequence numbers at 0, at the window's edges and
// near 2^64−1, 10-byte and non-minimal varints, NAK floods, bundles packed
// to the limit, first fragments claiming 64 MiB, ORDER floods, huge
// stability gossip. The member must not panic, must hold no more than its
// stack's stated bound, must answer NAKs within the retransmission rules,
// and must still deliver its own multicast: everywhere, when the attack
// kept to what cannot displace a legitimate message (hostile.Target.Safe).
func FuzzHostileStack(f *testing.F) {
	for kind := range hostile.Kinds {
		for _, mode := range []byte{0, 1, 2, 3} {
			f.Add([]byte{mode & 1, mode >> 1, 1, 0, byte(kind), 7, 3, 200, 9, 1, 0, byte(kind), 2, 255, 255, 255, 255})
		}
	}
	f.Fuzz(func(t *testing.T, input []byte) {
		src := hostile.NewBytes(input)
		total, safe := src.IntN(2) == 1, src.IntN(2) == 1
		g := newHostileGroup(t, total)
		g.warmUp()
		g.attack(src, safe, 8)
		g.stillAlive(safe)
	})
}

// TestForgedGossipBeyondTheWindowRefused sends member 0 stability gossip in
// member 1's name whose every value is 2^63, far beyond any window: it must
// be refused whole, as nothing an honest member sends. Believed, even cut
// down to the window, it makes member 0 ask member 1 for thousands of
// messages that do not exist for the rest of the view, and count member 1
// as having every message of origin 0, which all members then release
// while member 1 still misses some: member 1 stalls.
func TestForgedGossipBeyondTheWindowRefused(t *testing.T) {
	g := newHostileGroup(t, false)
	g.warmUp()
	m := g.stacks[0].Layer("mnak").(*mnak.Layer)
	var known [3]uint64
	for o := range 3 {
		_, _, known[o] = m.Progress(o)
	}
	d := hostile.Header{Group: 7, View: 11, Sender: 1, Type: layers.ECastUnrel}.Append(nil)
	d = hostile.Gossip(d, 3, []uint64{1 << 63, 1 << 63, 1 << 63}, hostile.Minimal)
	if g.stacks[0].Receive(d) {
		t.Error("gossip of 2^63 accepted")
	}
	for o := range 3 {
		if _, _, k := m.Progress(o); k != known[o] {
			t.Errorf("origin %d: member 0 now believes %d messages exist, %d before the forged gossip", o, k, known[o])
		}
	}
	g.stillAlive(true)
}

// TestHostileStackSweep runs the fuzz target's attack with seeded
// choices: every kind of hostile datagram, many times, on both stacks.
func TestHostileStackSweep(t *testing.T) {
	seeds := 60
	if testing.Short() {
		seeds = 10
	}
	for _, total := range []bool{false, true} {
		for _, safe := range []bool{false, true} {
			t.Run(fmt.Sprintf("total=%v,safe=%v", total, safe), func(t *testing.T) {
				for seed := range uint64(seeds) {
					g := newHostileGroup(t, total)
					g.warmUp()
					g.attack(randSource(seed), safe, 40)
					g.stillAlive(safe)
				}
			})
		}
	}
}

func randSource(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x686f7374)) }
