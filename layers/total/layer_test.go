package total_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/total"
)

// loop stands in for the reliable layers below total: it delivers a
// member's own multicasts back up at once, as mnak does, counts them (their
// numbers in the member's stream) and lets a test inject what mnak would
// deliver from others.
type loop struct {
	p    *layers.Port
	rank int
	sent uint64   // own multicasts passed down
	down [][]byte // their bytes, when record is set
	rec  bool
}

func (l *loop) Name() string           { return "loop" }
func (l *loop) Init(p *layers.Port)    { l.p, l.rank = p, p.View().Rank }
func (l *loop) Tick(now time.Duration) {}
func (l *loop) Up(ev *layers.Event)    { l.p.Up(ev) }

func (l *loop) Down(ev *layers.Event) {
	if ev.Type != layers.ECast {
		return
	}
	l.sent++
	if l.rec {
		l.down = append(l.down, ev.Msg.Bytes())
	}
	local := l.p.NewEvent(layers.ECast, l.rank)
	local.Msg = ev.Msg
	l.p.Up(local)
	l.p.FreeEvent(local)
}

// inject delivers a multicast from origin whose bytes, total's header
// included, are b.
func (l *loop) inject(origin int, b []byte) {
	ev := l.p.NewEvent(layers.ECast, origin)
	ev.Msg.Body = b
	l.p.Up(ev)
	l.p.FreeEvent(ev)
}

func (l *loop) stability(s *layers.Stability) {
	ev := l.p.NewEvent(layers.EStable, layers.AllPeers)
	ev.Stability = s
	l.p.Up(ev)
	l.p.FreeEvent(ev)
}

// probe sits above total and keeps the last stability report it saw.
type probe struct {
	p      *layers.Port
	stable []uint64
	seen   []uint64
}

func (l *probe) Name() string           { return "probe" }
func (l *probe) Init(p *layers.Port)    { l.p = p }
func (l *probe) Tick(now time.Duration) {}
func (l *probe) Down(ev *layers.Event)  { l.p.Down(ev) }

func (l *probe) Up(ev *layers.Event) {
	if ev.Type == layers.EStable {
		l.stable = append(l.stable[:0], ev.Stability.Stable...)
		l.seen = append(l.seen[:0], ev.Stability.MaxSeen...)
	}
	l.p.Up(ev)
}

type bench struct {
	s   *layers.Stack
	lo  *loop
	tot *total.Layer
	top *probe
}

func newBench(t testing.TB, rank, n int, cfg total.Config) *bench {
	b := &bench{lo: &loop{}, tot: total.New(cfg), top: &probe{}}
	s, err := layers.New(layers.Config{View: layers.View{Group: 1, N: n, Rank: rank}}, b.lo, b.tot, b.top)
	if err != nil {
		t.Fatal(err)
	}
	b.s = s
	return b
}

// delivered returns and clears the deliveries as "origin:data".
func (b *bench) delivered() []string {
	var out []string
	for _, d := range b.s.Ready().Deliveries {
		out = append(out, fmt.Sprintf("%d:%s", d.From, d.Data))
	}
	b.s.Advance()
	return out
}

func data(s string) []byte { return append([]byte{0}, s...) }

func order(runs ...total.Run) []byte { return total.AppendOrder([]byte{1}, runs) }

func TestOrderWaitsForItsCasts(t *testing.T) {
	b := newBench(t, 1, 3, total.Config{})
	b.lo.inject(0, order(total.Run{Origin: 2, Count: 2}, total.Run{Origin: 0, Count: 1}))
	b.lo.inject(0, data("x"))
	if got := b.delivered(); len(got) != 0 {
		t.Fatalf("delivered %v before the first cast named arrived", got)
	}
	b.lo.inject(2, data("a"))
	if got := b.delivered(); !slices.Equal(got, []string{"2:a"}) {
		t.Fatalf("delivered %v, want 2:a", got)
	}
	b.s.Cast([]byte("mine")) // not ordered yet: held
	b.lo.inject(2, data("b"))
	if got := b.delivered(); !slices.Equal(got, []string{"2:b", "0:x"}) {
		t.Fatalf("delivered %v, want 2:b 0:x", got)
	}
	if b.tot.Held() != 1 {
		t.Fatalf("held %d, want the member's own cast", b.tot.Held())
	}
	b.lo.inject(0, order(total.Run{Origin: 1, Count: 1}))
	if got := b.delivered(); !slices.Equal(got, []string{"1:mine"}) {
		t.Fatalf("delivered %v, want 1:mine", got)
	}
}

func TestMalformedDroppedAndCounted(t *testing.T) {
	b := newBench(t, 1, 3, total.Config{})
	for _, tc := range []struct {
		name, reason string
		from         int
		in           []byte
	}{
		{"empty", "drop.malformed", 2, nil},
		{"unknown tag", "drop.malformed", 2, []byte{7, 'x'}},
		{"order from a member", "drop.not_sequencer", 2, order(total.Run{Origin: 2, Count: 1})},
		{"empty order", "drop.malformed_order", 0, []byte{1}},
		{"order of nothing", "drop.malformed_order", 0, []byte{1, 2, 0}},
		{"order outside view", "drop.malformed_order", 0, []byte{1, 3, 1}},
		{"order split run", "drop.malformed_order", 0, []byte{1, 2, 1, 2, 1}},
		{"order trailing byte", "drop.malformed_order", 0, []byte{1, 2, 1, 0}},
	} {
		before := b.s.Counter("total", tc.reason)
		b.lo.inject(tc.from, tc.in)
		if b.s.Counter("total", tc.reason) != before+1 {
			t.Errorf("%s: not counted under %s: %v", tc.name, tc.reason, b.s.Counters())
		}
	}
	b.lo.inject(2, data("ok"))
	b.lo.inject(0, order(total.Run{Origin: 2, Count: 1}))
	if got := b.delivered(); !slices.Equal(got, []string{"2:ok"}) {
		t.Fatalf("delivered %v after malformed input, want only 2:ok", got)
	}
}

func TestSequencerBatchesUntilFlush(t *testing.T) {
	b := newBench(t, 0, 3, total.Config{MaxBatch: 4})
	b.lo.rec = true
	b.lo.inject(1, data("a"))
	b.s.Cast([]byte("b"))
	b.lo.inject(2, data("c"))
	if got := b.delivered(); len(got) != 0 || b.tot.Held() != 3 {
		t.Fatalf("delivered %v before an ORDER, held %d", got, b.tot.Held())
	}
	b.s.Flush()
	if got := b.delivered(); !slices.Equal(got, []string{"1:a", "0:b", "2:c"}) {
		t.Fatalf("delivered %v, want the order of arrival", got)
	}
	// A full batch goes at once.
	for i := range 5 {
		b.lo.inject(1, data(fmt.Sprint(i)))
	}
	if got := b.delivered(); !slices.Equal(got, []string{"1:0", "1:1", "1:2", "1:3"}) {
		t.Fatalf("delivered %v, want a batch of 4", got)
	}
	b.s.Flush()
	b.s.Flush() // nothing to order: no ORDER
	want := [][]byte{
		data("b"),
		order(total.Run{Origin: 1, Count: 1}, total.Run{Origin: 0, Count: 1}, total.Run{Origin: 2, Count: 1}),
		order(total.Run{Origin: 1, Count: 4}),
		order(total.Run{Origin: 1, Count: 1}),
	}
	if !slices.EqualFunc(b.lo.down, want, slices.Equal) {
		t.Fatalf("multicasts sent %x, want %x", b.lo.down, want)
	}
}

// TestStabilityCountsDataOnly checks that flow control above the sequencer
// sees its own stream without the ORDERs.
func TestStabilityCountsDataOnly(t *testing.T) {
	b := newBench(t, 0, 2, total.Config{})
	for range 3 {
		b.s.Cast([]byte("d"))
	}
	b.s.Flush() // ORDER is multicast 3
	b.s.Cast([]byte("d"))
	b.s.Cast([]byte("d"))
	b.s.Flush() // ORDER is multicast 6
	if b.lo.sent != 7 {
		t.Fatalf("sent %d multicasts, want 7", b.lo.sent)
	}
	b.lo.stability(&layers.Stability{Stable: []uint64{4, 9}, MaxSeen: []uint64{7, 9}})
	if !slices.Equal(b.top.stable, []uint64{3, 9}) || !slices.Equal(b.top.seen, []uint64{5, 9}) {
		t.Fatalf("passed up stable %v max seen %v, want [3 9] [5 9]", b.top.stable, b.top.seen)
	}
	b.lo.stability(&layers.Stability{Stable: []uint64{7, 9}, MaxSeen: []uint64{7, 9}})
	if !slices.Equal(b.top.stable, []uint64{5, 9}) || !slices.Equal(b.top.seen, []uint64{5, 9}) {
		t.Fatalf("passed up stable %v max seen %v, want [5 9] [5 9]", b.top.stable, b.top.seen)
	}
	// Another member's report is its own business.
	m := newBench(t, 1, 2, total.Config{})
	m.lo.stability(&layers.Stability{Stable: []uint64{4, 9}, MaxSeen: []uint64{7, 9}})
	if !slices.Equal(m.top.stable, []uint64{4, 9}) {
		t.Fatalf("member passed up %v, want it untouched", m.top.stable)
	}
}

func TestEndViewDeliversHeldByRank(t *testing.T) {
	b := newBench(t, 1, 3, total.Config{})
	b.lo.inject(2, data("c1"))
	b.lo.inject(0, data("a1"))
	b.lo.inject(2, data("c2"))
	b.s.Cast([]byte("b1"))
	// An ORDER naming a cast that never comes blocks; it is forgotten.
	b.lo.inject(0, order(total.Run{Origin: 2, Count: 1}, total.Run{Origin: 0, Count: 2}, total.Run{Origin: 1, Count: 1}))
	if got := b.delivered(); !slices.Equal(got, []string{"2:c1", "0:a1"}) {
		t.Fatalf("delivered %v before the end", got)
	}
	b.s.EndView()
	if got := b.delivered(); !slices.Equal(got, []string{"1:b1", "2:c2"}) {
		t.Fatalf("delivered %v at the end, want 1:b1 2:c2", got)
	}
	b.lo.inject(2, data("late"))
	b.s.Cast([]byte("late"))
	if got := b.delivered(); len(got) != 0 {
		t.Fatalf("delivered %v after the end", got)
	}
}

// TestNoAllocations drives the sequencer and a member through steady
// traffic and checks that the layer's per-message path allocates nothing.
func TestNoAllocations(t *testing.T) {
	seq := newBench(t, 0, 3, total.Config{})
	msgs := [][]byte{data("one"), data("two"), data("three")}
	own := []byte("own")
	stab := layers.Stability{Stable: make([]uint64, 3), MaxSeen: make([]uint64, 3)}
	allocs := testing.AllocsPerRun(200, func() {
		for i := range 24 {
			seq.lo.inject(1+i%2, msgs[i%3])
			if i%6 == 0 {
				seq.s.Cast(own)
			}
		}
		seq.s.Flush()
		stab.Stable[0], stab.MaxSeen[0] = seq.lo.sent, seq.lo.sent
		seq.lo.stability(&stab)
		seq.s.Advance()
	})
	if allocs != 0 {
		t.Errorf("sequencer: %v allocations per round", allocs)
	}
	if seq.tot.Held() != 0 {
		t.Fatalf("sequencer holds %d", seq.tot.Held())
	}

	mem := newBench(t, 1, 3, total.Config{})
	ord := order(total.Run{Origin: 2, Count: 8}, total.Run{Origin: 0, Count: 8}, total.Run{Origin: 1, Count: 2})
	allocs = testing.AllocsPerRun(200, func() {
		for i := range 8 {
			mem.lo.inject(2, msgs[i%3])
			mem.lo.inject(0, msgs[i%3])
		}
		mem.s.Cast(own)
		mem.s.Cast(own)
		mem.lo.inject(0, ord)
		mem.s.Advance()
	})
	if allocs != 0 {
		t.Errorf("member: %v allocations per round", allocs)
	}
	if mem.tot.Held() != 0 {
		t.Fatalf("member holds %d", mem.tot.Held())
	}
}
