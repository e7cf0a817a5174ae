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
		if c := q.Cap(); c > MinCap && q.Len() <= c/4 {
			t.Fatalf("step %d: capacity %d holding %d did not shrink", step, c, q.Len())
		}
	}
}

func TestShrinksBackAfterBurst(t *testing.T) {
	var q Queue[[64]byte]
	for range 1 << 16 {
		q.Push([64]byte{})
	}
	for q.Len() > 3 {
		q.Discard()
	}
	if q.Cap() > 2*MinCap {
		t.Fatalf("capacity %d after draining a burst to 3", q.Cap())
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

func TestSteadyStateDoesNotAllocate(t *testing.T) {
	var q Queue[int]
	for i := range 100 {
		q.Push(i)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		for i := range 50 {
			q.Push(i)
		}
		for range 50 {
			q.Pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run in steady state", allocs)
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
