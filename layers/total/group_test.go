package total_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mnak"
	"github.com/conclave-go/conclave/layers/total"
)

// network is a group of full compose.Total stacks on layertest's Net, with
// the helpers the total order tests share. Faults (loss, duplication,
// delay) are drawn from one seeded source.
type network struct {
	*lt.Net
	t   testing.TB
	rng *rand.Rand
}

func newNetwork(t testing.TB, n int, seed uint64) *network {
	nw := &network{Net: lt.NewNet(t, n, compose.Total, compose.Options{}), t: t, rng: rand.New(rand.NewPCG(seed, 99))}
	nw.Faults.Rand = nw.rng
	return nw
}

func (nw *network) total(r int) *total.Layer { return nw.Members[r].Layer("total").(*total.Layer) }
func (nw *network) mnak(r int) *mnak.Layer   { return nw.Members[r].Layer("mnak").(*mnak.Layer) }

// cast multicasts "r/i" from member r. Like a busy driver, it leaves the
// flush to the next step (Collect or Step).
func (nw *network) cast(r, i int) { nw.Members[r].Cast([]byte(fmt.Sprintf("%d/%d", r, i))) }

// got is what member r delivered, each cast as "origin/index", checked to
// come from the origin it names.
func (nw *network) got(r int) []string {
	nw.t.Helper()
	if s := nw.Sends(r); len(s) != 0 {
		nw.t.Fatalf("member %d delivered point-to-point messages %v", r, s)
	}
	var out []string
	for _, c := range nw.Casts(r) {
		from, data, _ := strings.Cut(c, ":")
		if origin, _, _ := strings.Cut(data, "/"); origin != from {
			nw.t.Fatalf("member %d delivered %q as from %s", r, data, from)
		}
		out = append(out, data)
	}
	return out
}

// runUntil steps until done holds, at most limit times.
func (nw *network) runUntil(limit int, done func() bool) {
	nw.t.Helper()
	for range limit {
		if done() {
			return
		}
		nw.Step()
	}
	if !done() {
		nw.t.Fatalf("not done after %d rounds; delivered %v", limit, nw.counts())
	}
}

func (nw *network) counts() []int {
	c := make([]int, len(nw.Members))
	for r := range c {
		c[r] = len(nw.Casts(r))
	}
	return c
}

func (nw *network) allDelivered(members []int, want int) func() bool {
	return func() bool {
		for _, r := range members {
			if len(nw.Casts(r)) < want {
				return false
			}
		}
		return true
	}
}

// checkSame checks that members delivered the same sequence, each cast once
// and each sender's casts in FIFO order, and that it has want casts from
// each origin.
func (nw *network) checkSame(members []int, want []int) {
	nw.t.Helper()
	ref := nw.got(members[0])
	for _, r := range members {
		seq := nw.got(r)
		next := make([]int, len(nw.Members))
		for k, m := range seq {
			var o, i int
			if _, err := fmt.Sscanf(m, "%d/%d", &o, &i); err != nil {
				nw.t.Fatalf("member %d delivered %q", r, m)
			}
			if i != next[o] {
				nw.t.Fatalf("member %d delivered %q at %d, want %d/%d next (FIFO, exactly once)", r, m, k, o, next[o])
			}
			next[o]++
		}
		if !slices.Equal(next, want) {
			nw.t.Fatalf("member %d delivered %v casts per origin, want %v", r, next, want)
		}
		if !slices.Equal(seq, ref) {
			k := 0
			for k < len(seq) && seq[k] == ref[k] {
				k++
			}
			nw.t.Fatalf("members %d and %d differ at %d: %q vs %q", members[0], r, k, ref[k], seq[k])
		}
	}
}

func ranks(n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = i
	}
	return r
}

func repeat(v, n int) []int {
	r := make([]int, n)
	for i := range r {
		r[i] = v
	}
	return r
}

func TestTotalOrderUnderLossDuplicationReordering(t *testing.T) {
	for _, tc := range []struct {
		n    int
		seed uint64
	}{{3, 1}, {4, 2}, {5, 3}, {3, 4}, {5, 5}} {
		t.Run(fmt.Sprintf("n=%d/seed=%d", tc.n, tc.seed), func(t *testing.T) {
			const per = 300
			nw := newNetwork(t, tc.n, tc.seed)
			nw.Faults.Loss, nw.Faults.Dup, nw.Faults.MaxDelay = 0.1, 0.05, 3
			sent := make([]int, tc.n)
			for slices.Min(sent) < per {
				for _, r := range nw.rng.Perm(tc.n) {
					for k := nw.rng.IntN(5); k > 0 && sent[r] < per; k-- {
						nw.cast(r, sent[r])
						sent[r]++
						if nw.rng.IntN(4) == 0 {
							nw.Members[r].Flush()
						}
					}
				}
				nw.Step()
			}
			nw.runUntil(5000, nw.allDelivered(ranks(tc.n), tc.n*per))
			nw.checkSame(ranks(tc.n), repeat(per, tc.n))
			var dups, naks uint64
			for _, s := range nw.Members {
				dups += s.Counter("mnak", "duplicates")
				naks += s.Counter("mnak", "naks_sent")
			}
			if dups == 0 || naks == 0 {
				t.Fatalf("the network neither duplicated (%d) nor lost (%d NAKs)", dups, naks)
			}
			t.Logf("%d rounds, %d ORDERs for %d casts, %d duplicates, %d NAKs", nw.Steps,
				nw.Members[0].Counter("total", "orders_sent"), tc.n*per, dups, naks)
		})
	}
}

func TestSequencerOwnCastsOrdered(t *testing.T) {
	nw := newNetwork(t, 3, 7)
	nw.cast(0, 0)
	if d := nw.Members[0].Ready().Deliveries; len(d) != 0 || nw.total(0).Held() != 1 {
		t.Fatalf("the sequencer delivered its cast before ordering it (held %d)", nw.total(0).Held())
	}
	nw.Collect(0) // flushes
	if !slices.Equal(nw.got(0), []string{"0/0"}) {
		t.Fatalf("after a flush the sequencer delivered %v", nw.got(0))
	}
	// The sequencer casts most, interleaved with the others.
	sent := []int{1, 0, 0}
	for i := range 200 {
		r := []int{0, 0, 1, 0, 2}[i%5]
		nw.cast(r, sent[r])
		sent[r]++
		if i%7 == 0 {
			nw.Step()
		}
	}
	nw.runUntil(100, nw.allDelivered(ranks(3), 201))
	nw.checkSame(ranks(3), sent)
	// The others' casts were ordered between the sequencer's own, not
	// after them: the sequencer's casts are not all first.
	if seq := nw.got(1); slices.Index(seq, "1/0") > slices.Index(seq, "0/100") {
		t.Fatalf("member 1's first cast came after the sequencer's 100th: %v", seq[:20])
	}
}

func TestSingleMember(t *testing.T) {
	nw := newNetwork(t, 1, 1)
	for i := range 3 {
		nw.cast(0, i)
	}
	if d := nw.Members[0].Ready().Deliveries; len(d) != 3 {
		t.Fatalf("delivered %d before a flush, want each cast at once", len(d))
	}
	nw.Collect(0)
	if !slices.Equal(nw.got(0), []string{"0/0", "0/1", "0/2"}) {
		t.Fatalf("delivered %v", nw.got(0))
	}
	nw.Step()
	nw.Members[0].EndView()
	nw.Collect(0)
	if len(nw.got(0)) != 3 || nw.Members[0].Counter("total", "orders_sent") != 0 {
		t.Fatalf("delivered %v, %d ORDERs", nw.got(0), nw.Members[0].Counter("total", "orders_sent"))
	}
}

// cutAndEnd does what the membership protocol does when survivors move to
// the next view: per origin, the largest count any survivor has (its own
// sent count for a survivor's own stream) becomes the cut, to be fetched
// from the survivor that has it; then it runs until every survivor has
// reached the cuts, and ends the view.
func (nw *network) cutAndEnd(survivors []int) {
	nw.t.Helper()
	n := len(nw.Members)
	for origin := range n {
		var upTo uint64
		holder := origin
		for _, s := range survivors {
			have := nw.mnak(s).Delivered(origin)
			if s == origin {
				have = nw.mnak(s).Sent()
			}
			if have > upTo || (have == upTo && holder == origin && nw.Dead[origin]) {
				upTo, holder = have, s
			}
		}
		for _, s := range survivors {
			nw.mnak(s).Cut(origin, upTo, holder)
		}
	}
	nw.runUntil(500, func() bool {
		for _, s := range survivors {
			if !nw.mnak(s).ReachedCuts() {
				return false
			}
		}
		return true
	})
	for _, s := range survivors {
		nw.Members[s].EndView()
		nw.Collect(s)
	}
}

// TestViewEndSequencerFails ends a view whose sequencer fails after some of
// its last ORDERs reached only some members, or none. The survivors, brought
// to the same cut, deliver the same sequence.
func TestViewEndSequencerFails(t *testing.T) {
	for _, tc := range []struct {
		name     string
		withheld []int // members the sequencer's datagrams do not reach
		fromSeq  int   // of its last casts, those that reach the cut
	}{
		{"some members miss the last ORDERs", []int{2, 3}, 5},
		{"every member misses them", []int{1, 2, 3}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := newNetwork(t, 4, 11)
			for r := range 4 {
				for i := range 20 {
					nw.cast(r, i)
				}
			}
			nw.runUntil(100, nw.allDelivered(ranks(4), 80))
			nw.Lose = func(from, to int, _ []byte) bool { return from == 0 && slices.Contains(tc.withheld, to) }
			for i := range 10 {
				for r := range 4 {
					if r != 0 || i < 5 {
						nw.cast(r, 20+i)
					}
				}
				nw.Step()
			}
			for range 10 {
				nw.Step()
			}
			if nw.total(2).Held() == 0 || len(nw.got(2)) != 80 {
				t.Fatalf("member 2 delivered %d, holds %d: the test withheld nothing", len(nw.got(2)), nw.total(2).Held())
			}
			nw.Dead[0] = true
			survivors := []int{1, 2, 3}
			nw.cutAndEnd(survivors)
			nw.checkSame(survivors, []int{20 + tc.fromSeq, 30, 30, 30})
			for _, s := range survivors {
				if h := nw.total(s).Held(); h != 0 {
					t.Fatalf("member %d still holds %d", s, h)
				}
			}
		})
	}
}

// TestViewEndUnorderedTail ends a view in which the sequencer has stopped
// ordering (Block, as a view change does) while every member received the
// same casts: the casts no ORDER covered are delivered by origin rank, then
// FIFO, at every member alike, the sequencer included.
func TestViewEndUnorderedTail(t *testing.T) {
	nw := newNetwork(t, 3, 13)
	for i := range 30 {
		nw.cast(i%3, i/3)
	}
	nw.runUntil(100, nw.allDelivered(ranks(3), 30))
	nw.total(0).Block()
	for i := range 30 {
		nw.cast(2-i%3, 10+i/3)
		if i%4 == 0 {
			nw.Step()
		}
	}
	// Until mnak has delivered everything everywhere.
	nw.runUntil(100, func() bool {
		for s := range 3 {
			for o := range 3 {
				if nw.mnak(s).Delivered(o) != nw.mnak(o).Sent() {
					return false
				}
			}
		}
		return true
	})
	if c := nw.counts(); !slices.Equal(c, []int{30, 30, 30}) {
		t.Fatalf("delivered %v after the sequencer blocked", c)
	}
	sent0 := nw.mnak(0).Sent()
	for s := range 3 {
		nw.Members[s].EndView()
		nw.Collect(s)
	}
	nw.checkSame(ranks(3), []int{20, 20, 20})
	var tail []string
	for o := range 3 {
		for i := 10; i < 20; i++ {
			tail = append(tail, fmt.Sprintf("%d/%d", o, i))
		}
	}
	if !slices.Equal(nw.got(0)[30:], tail) {
		t.Fatalf("tail %v, want by origin then FIFO", nw.got(0)[30:])
	}
	if nw.mnak(0).Sent() != sent0 {
		t.Fatal("the sequencer multicast at the view's end")
	}
}
