package queue

import (
	"math/rand/v2"
	"testing"
)

func TestZeroValueEmpty(t *testing.T) {
	var q Queue[int]
	if _, ok := q.Pop(); ok || q.Len() != 0 {
		t.Fatal("zero queue not empty")
	}
	if _, ok := q.Peek(); ok {
		t.Fatal("peek on an empty queue found something")
	}
	q.Discard()
	if q.Len() != 0 {
		t.Fatal("discard on an empty queue changed its length")
	}
}

// TestFIFOAgainstSlice runs random pushes and pops against a slice model,
// across growth, wrap-around and shrinking.
func TestFIFOAgainstSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q Queue[int]
	var model []int
	next := 0
	for step := range 200_000 {
		// Phases that mostly fill, then mostly drain, so that the
		// queue grows and shrinks many times.
		fill := (step/5000)%2 == 0
		if rng.IntN(10) < map[bool]int{true: 7, false: 3}[fill] {
			q.Push(next)
			model = append(model, next)
			next++
		} else {
			v, ok := q.Pop()
			if ok != (len(model) > 0) {
				t.Fatalf("step %d: pop ok %v with %d in the model", step, ok, len(model))
			}
			if ok {
				if v != model[0] {
					t.Fatalf("step %d: popped %d, want %d", step, v, model[0])
				}
				model = model[1:]
			}
		}
		if q.Len() != len(model) {
			t.Fatalf("step %d: len %d, want %d", step, q.Len(), len(model))
		}
		if len(model) > 0 {
			if v, _ := q.Peek(); v != model[0] || *q.Front() != model[0] || *q.At(len(model) - 1) != model[len(model)-1] {
				t.Fatalf("step %d: front %d, back %d; want %d, %d", step, v, *q.At(len(model) - 1), model[0], model[len(model)-1])
			}
		}
		if c := q.Cap(); c < q.Len() || c > MinCap && c&(c-1) != 0 {
			t.Fatalf("step %d: capacity %d holding %d", step, c, q.Len())
		}
	}
}

// TestShrinksBackAfterBurst: after a burst, a queue that goes back to its
// usual level gives the memory back, whether it empties or not.
func TestShrinksBackAfterBurst(t *testing.T) {
	for _, usual := range []int{0, 3, 100} {
		var q Queue[[64]byte]
		for range 1 << 16 {
			q.Push([64]byte{})
		}
		for q.Len() > usual {
			q.Discard()
		}
		// Traffic at the usual level, emptying each round (usual 0) or
		// keeping that many queued.
		for range 1 << 15 {
			q.Push([64]byte{})
			q.Push([64]byte{})
			q.Discard()
			q.Discard()
		}
		if limit := max(MinCap, 4*usual+8); q.Cap() > limit {
			t.Errorf("usual level %d: capacity %d after the burst, want at most %d", usual, q.Cap(), limit)
		}
	}
}

func TestTrim(t *testing.T) {
	var q Queue[int]
	for i := range 1000 {
		q.Push(i)
	}
	for range 990 {
		q.Discard()
	}
	q.Trim()
	if q.Cap() != 32 || q.Len() != 10 {
		t.Fatalf("capacity %d holding %d after Trim, want 32 holding 10", q.Cap(), q.Len())
	}
	for i := 990; i < 1000; i++ {
		if v, _ := q.Pop(); v != i {
			t.Fatalf("popped %d, want %d", v, i)
		}
	}
}

func TestPopClearsSlot(t *testing.T) {
	var q Queue[*int]
	x := 1
	q.Push(&x)
	q.Pop()
	for i := range q.buf {
		if q.buf[i] != nil {
			t.Fatalf("slot %d still holds a popped pointer", i)
		}
	}
}

// TestSteadyStateDoesNotAllocate: rounds that go up and down, or fill
// and empty, allocate nothing once the queue has grown to their peak.
func TestSteadyStateDoesNotAllocate(t *testing.T) {
	for _, c := range []struct{ base, burst int }{{100, 50}, {0, 12}, {0, 1000}, {5, 3}} {
		var q Queue[int]
		for i := range c.base {
			q.Push(i)
		}
		round := func() {
			for i := range c.burst {
				q.Push(i)
			}
			for range c.burst {
				q.Pop()
			}
		}
		round()
		if allocs := testing.AllocsPerRun(1000, round); allocs != 0 {
			t.Errorf("base %d, burst %d: %v allocations per round", c.base, c.burst, allocs)
		}
	}
}

func BenchmarkPushPop(b *testing.B) {
	var q Queue[int]
	for i := range 64 {
		q.Push(i)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		q.Push(i)
		q.Pop()
	}
}

func BenchmarkBurst(b *testing.B) {
	var q Queue[int]
	b.ReportAllocs()
	for b.Loop() {
		for i := range 1024 {
			q.Push(i)
		}
		for range 1024 {
			q.Pop()
		}
	}
}
