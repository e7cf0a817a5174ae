// Package queue is a FIFO queue on a ring buffer, generic in its element:
// the one queue the stack's layers and the drivers above them use for
// messages waiting their turn (flow control backlogs, casts waiting for an
// order, control messages waiting to be handled).
//
// Push and Pop are amortised O(1). The buffer's capacity is a power of
// two; it doubles when full. It shrinks lazily, so that a queue in steady
// state does not allocate even when it fills and empties in every round:
// the queue keeps the most it held (its peak) over windows of a quarter
// of its capacity in pops, and when the peak over the last two windows was
// at most a quarter of the capacity, it shrinks to twice that peak (never
// below MinCap). The copy costs at most what those pops did. So a queue
// that a burst, or an attacker, once filled gives the memory back after
// half its capacity in pops at its usual level; Trim gives it back at once
// (for a queue left idle, on a timer).
//
// A Queue is not safe for concurrent use. Its zero value is an empty queue
// ready to use.
package queue

// MinCap is the smallest capacity a queue allocates, and the capacity below
// which it never shrinks.
const MinCap = 8

// Queue is a FIFO queue of T. The zero value is empty and ready to use.
type Queue[T any] struct {
	buf  []T // len(buf) is 0 or a power of two
	head int // index of the first element
	n    int // number of elements
	peak int // most elements held in the current window
	prev int // most held in the window before
	pops int // elements popped in the current window
}

// Len is the number of elements queued.
func (q *Queue[T]) Len() int { return q.n }

// Cap is the number of elements the queue holds without growing.
func (q *Queue[T]) Cap() int { return len(q.buf) }

// Push appends v at the back.
func (q *Queue[T]) Push(v T) { *q.Slot() = v }

// Slot appends a zero element at the back and returns it, for the caller
// to fill in place (cheaper than Push for a large T). The pointer is valid
// until the next Push, Slot, Pop or Reset.
func (q *Queue[T]) Slot() *T {
	if q.n == len(q.buf) {
		q.resize(max(2*len(q.buf), MinCap))
	}
	p := &q.buf[(q.head+q.n)&(len(q.buf)-1)]
	q.n++
	q.peak = max(q.peak, q.n)
	return p
}

// Peek returns the first element without removing it; ok is false if the
// queue is empty.
func (q *Queue[T]) Peek() (v T, ok bool) {
	if q.n == 0 {
		return v, false
	}
	return q.buf[q.head], true
}

// Front returns a pointer to the first element, which must exist. It is
// valid until the next Push, Slot, Pop or Reset.
func (q *Queue[T]) Front() *T {
	if q.n == 0 {
		panic("queue: Front of an empty queue")
	}
	return &q.buf[q.head]
}

// At returns a pointer to the i-th element from the front, 0 ≤ i < Len,
// valid as Front's.
func (q *Queue[T]) At(i int) *T {
	if i < 0 || i >= q.n {
		panic("queue: index out of range")
	}
	return &q.buf[(q.head+i)&(len(q.buf)-1)]
}

// Pop removes and returns the first element; ok is false if the queue is
// empty. The slot is cleared, so the queue keeps no reference the element
// held.
func (q *Queue[T]) Pop() (v T, ok bool) {
	if q.n == 0 {
		return v, false
	}
	v = q.buf[q.head]
	q.Discard()
	return v, true
}

// Discard removes the first element, if any, without copying it out.
func (q *Queue[T]) Discard() {
	if q.n == 0 {
		return
	}
	var zero T
	q.buf[q.head] = zero
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
	q.pops++
	if q.pops >= max(len(q.buf)/4, MinCap) {
		if peak := max(q.peak, q.prev); peak <= len(q.buf)/4 {
			q.shrink(peak)
		}
		q.prev, q.peak, q.pops = q.peak, q.n, 0
	}
}

// Reset empties the queue and gives its memory back.
func (q *Queue[T]) Reset() { *q = Queue[T]{} }

// Trim shrinks the buffer to twice what the queue holds now (never below
// MinCap), whatever it held before.
func (q *Queue[T]) Trim() {
	q.shrink(q.n)
	q.prev, q.peak, q.pops = q.n, q.n, 0
}

// shrink resizes the buffer to the power of two at least twice need (and
// at least MinCap), if that is smaller than it is.
func (q *Queue[T]) shrink(need int) {
	size := MinCap
	for size < 2*need {
		size *= 2
	}
	if size < len(q.buf) {
		q.resize(size)
	}
}

// resize moves the elements, in order, into a new buffer of size elements.
func (q *Queue[T]) resize(size int) {
	buf := make([]T, size)
	if q.n > 0 {
		k := copy(buf, q.buf[q.head:min(q.head+q.n, len(q.buf))])
		copy(buf[k:], q.buf[:q.n-k])
	}
	q.buf, q.head = buf, 0
}
