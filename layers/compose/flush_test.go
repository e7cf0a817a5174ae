package compose_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mflow"
)

func (g *group) casts(r, origin int) int {
	n := 0
	for _, d := range g.got[r] {
		if d.Type == layers.ECast && d.From == origin {
			n++
		}
	}
	return n
}

// TestViewFlushCountsAndCuts drives the flush interface as a view change
// does: counts, a cut that freezes an origin at one member while another
// delivers on, and the cut reached.
func TestViewFlushCountsAndCuts(t *testing.T) {
	g := newGroup(t, 3)
	for i := range 5 {
		g.stacks[0].Cast([]byte{byte(i)})
	}
	g.run(10)
	f0, f1, f2 := g.stacks[0].ViewFlush(), g.stacks[1].ViewFlush(), g.stacks[2].ViewFlush()
	if !f1.HasCutter() {
		t.Fatal("the reliable stack has no multicast counts")
	}
	if f0.Sent() != 5 || f0.Delivered(0) != 5 || f1.Delivered(0) != 5 || f1.Sent() != 0 {
		t.Fatalf("counts: sent %d, own delivered %d, member 1 delivered %d and sent %d; want 5, 5, 5, 0",
			f0.Sent(), f0.Delivered(0), f1.Delivered(0), f1.Sent())
	}
	f1.Cut(0, 5, 0)
	f2.Cut(0, layers.NoCut, 0)
	for i := range 3 {
		g.stacks[0].Cast([]byte{byte(10 + i)})
	}
	g.run(10)
	if got := g.casts(1, 0); got != 5 || f1.Delivered(0) != 5 {
		t.Fatalf("member 1 delivered %d (count %d) past its cut at 5", got, f1.Delivered(0))
	}
	if got := g.casts(2, 0); got != 8 {
		t.Fatalf("member 2 delivered %d without a cut, want 8", got)
	}
	if !f1.ReachedCuts() {
		t.Fatal("member 1 has not reached a cut it delivered up to")
	}
	// A cut above what arrived is not reached until the messages come.
	g.lose = func(from, to int) bool { return to == 2 }
	g.stacks[0].Cast([]byte("late"))
	g.run(2)
	f2.Cut(0, 9, 0)
	if f2.ReachedCuts() {
		t.Fatal("member 2 reached a cut of 9 holding 8")
	}
	g.lose = nil
	g.run(10)
	if !f2.ReachedCuts() || f2.Delivered(0) != 9 {
		t.Fatalf("member 2 delivered %d, reached %v; want the cut of 9 reached", f2.Delivered(0), f2.ReachedCuts())
	}
}

// TestViewFlushUnacknowledged: a point-to-point message awaits its
// acknowledgement until the peer has it.
func TestViewFlushUnacknowledged(t *testing.T) {
	g := newGroup(t, 3)
	f := g.stacks[1].ViewFlush()
	g.stacks[1].Send(2, []byte("hi"))
	if !f.Unacknowledged(2) || f.Unacknowledged(0) {
		t.Fatalf("after a send to 2: unacknowledged to 2 %v, to 0 %v", f.Unacknowledged(2), f.Unacknowledged(0))
	}
	g.run(10)
	if f.Unacknowledged(2) {
		t.Fatal("still unacknowledged after delivery")
	}
}

// TestViewFlushExclude: a member that no longer acknowledges closes the
// sender's flow control window, until the view change excludes it.
func TestViewFlushExclude(t *testing.T) {
	g := newGroup(t, 3)
	g.lose = func(from, to int) bool { return to == 2 || from == 2 }
	for i := range mflow.DefaultWindow + 10 {
		g.stacks[0].Cast([]byte{byte(i)})
	}
	g.run(20)
	if g.stacks[0].Backlog() == 0 {
		t.Fatal("flow control did not wait for the silent member")
	}
	g.stacks[0].ViewFlush().Exclude(2, true)
	g.stacks[1].ViewFlush().Exclude(2, true)
	g.run(20)
	if b := g.stacks[0].Backlog(); b != 0 {
		t.Fatalf("backlog %d after excluding the silent member", b)
	}
	g.stacks[0].ViewFlush().Exclude(2, false)
	for i := range mflow.DefaultWindow + 10 {
		g.stacks[0].Cast([]byte{byte(i)})
	}
	g.run(20)
	if g.stacks[0].Backlog() == 0 {
		t.Fatal("flow control did not wait again for the member taken back in")
	}
}

// TestViewFlushBlock: once blocked, the sequencer orders nothing more; the
// casts wait for the view's end and are delivered then.
func TestViewFlushBlock(t *testing.T) {
	g := newGroupOf(t, 3, compose.Total)
	for _, s := range g.stacks {
		s.ViewFlush().Block()
	}
	g.stacks[1].Cast([]byte("after block"))
	g.run(10)
	if n := g.casts(2, 1); n != 0 {
		t.Fatalf("member 2 delivered %d casts ordered after the block", n)
	}
	g.stacks[2].EndView()
	g.run(1)
	if n := g.casts(2, 1); n != 1 {
		t.Fatalf("member 2 delivered %d casts at the view's end, want 1", n)
	}
}

// TestViewFlushDatagram reads the view and sender a datagram names.
func TestViewFlushDatagram(t *testing.T) {
	g := newGroup(t, 3)
	var view uint64
	sender, ok := -1, false
	g.tap = func(from, to int, data []byte) {
		if from == 1 {
			view, sender, ok = g.stacks[2].ViewFlush().Datagram(data)
		}
	}
	g.stacks[1].Cast([]byte("x"))
	g.run(1)
	if !ok || view != 3 || sender != 1 {
		t.Fatalf("datagram names view %d, sender %d (ok %v); want 3, 1", view, sender, ok)
	}
	if _, _, ok := g.stacks[2].ViewFlush().Datagram([]byte{9, 9, 9}); ok {
		t.Fatal("a malformed datagram was read")
	}
}

// TestViewFlushWithoutLayers: a stack that lacks the layers answers as if
// there were nothing to flush.
func TestViewFlushWithoutLayers(t *testing.T) {
	s, err := compose.Build(layers.Config{View: layers.View{Group: 7, N: 2}}, []string{"bottom", "bundle"}, compose.Options{})
	if err != nil {
		t.Fatal(err)
	}
	f := s.ViewFlush()
	f.Cut(1, 3, 1)
	f.Exclude(1, true)
	f.Block()
	if f.HasCutter() || f.Sent() != 0 || f.Delivered(1) != 0 || !f.ReachedCuts() || f.Unacknowledged(1) {
		t.Fatal(fmt.Sprint("a stack without layers to flush has something to flush: ", f.HasCutter(), f.Sent(), f.Delivered(1), f.ReachedCuts(), f.Unacknowledged(1)))
	}
}

// TestViewChangeThroughFlush runs the view change that Flush documents,
// through the interface alone: member 2 fails after member 1, but not
// member 0, received its last multicasts; the survivors exclude it, block,
// report their vectors, and cut where the coordinator says, and then both
// have delivered the same messages (virtual synchrony), member 0 having
// fetched the missing ones from member 1, which holds them.
func TestViewChangeThroughFlush(t *testing.T) {
	nw := lt.NewNet(t, 3, compose.Total, compose.Options{})
	nw.Cast(0, "a0")
	nw.Cast(2, "c0")
	nw.Run(20 * time.Millisecond)
	nw.Lose = func(from, to int, _ []byte) bool { return from == 2 && to == 0 }
	nw.Cast(2, "c1", "c2", "c3")
	nw.Run(2 * time.Millisecond)
	nw.Lose = func(from, to int, _ []byte) bool { return from == 2 || to == 2 } // member 2 fails

	survivors := []int{0, 1}
	flush := func(r int) layers.Flush { return nw.Members[r].ViewFlush() }
	// 1. Exclude the leaving member.
	for _, s := range survivors {
		flush(s).Exclude(2, true)
	}
	// 2. Block, read the vectors, freeze the leaving member.
	vec := make(map[int][]uint64)
	for _, s := range survivors {
		f := flush(s)
		f.Block()
		for r := range 3 {
			vec[s] = append(vec[s], f.Delivered(r))
		}
		f.Cut(2, vec[s][2], 2)
		for _, o := range survivors {
			f.Cut(o, layers.NoCut, o)
		}
	}
	if vec[0][2] >= vec[1][2] {
		t.Fatalf("vectors %v: member 0 was meant to miss some of member 2's messages", vec)
	}
	// 3. The coordinator's cut: per origin the most any survivor has, and
	// who has it.
	for _, s := range survivors {
		for r := range 3 {
			upTo, holder := vec[0][r], 0
			if vec[1][r] > upTo {
				upTo, holder = vec[1][r], 1
			}
			flush(s).Cut(r, upTo, holder)
		}
	}
	nw.Run(50 * time.Millisecond)
	for _, s := range survivors {
		if !flush(s).ReachedCuts() {
			t.Fatalf("member %d has not reached the cut", s)
		}
	}
	// 4. End the view: what total order still holds is delivered alike.
	for _, s := range survivors {
		nw.Members[s].EndView()
		nw.Collect(s)
	}
	a, b := slices.Sorted(slices.Values(nw.Casts(0))), slices.Sorted(slices.Values(nw.Casts(1)))
	if !slices.Equal(a, b) || len(a) != 5 {
		t.Fatalf("survivors delivered %v and %v, want the same 5", nw.Casts(0), nw.Casts(1))
	}
	if !slices.Equal(nw.Casts(0), nw.Casts(1)) {
		t.Fatalf("total order differs: %v and %v", nw.Casts(0), nw.Casts(1))
	}
}
