package total

// ring is a FIFO queue on a ring buffer whose capacity is a power of two and
// grows by doubling. Its memory is reused as it empties and fills again, so
// a queue in steady state does not allocate. The zero value is empty.
type ring[T any] struct {
	buf  []T
	head int // index of the first element
	n    int // number of elements
}

// len is the number of queued elements.
func (q *ring[T]) len() int { return q.n }

// push appends v at the back.
func (q *ring[T]) push(v T) { *q.slot() = v }

// slot appends a zero element at the back and returns it, for the caller to
// fill in place. The pointer is valid until the next push.
func (q *ring[T]) slot() *T {
	if q.n == len(q.buf) {
		q.grow()
	}
	p := &q.buf[(q.head+q.n)&(len(q.buf)-1)]
	q.n++
	return p
}

// front returns the first element, which must exist. The pointer is valid
// until the next push or pop.
func (q *ring[T]) front() *T { return &q.buf[q.head] }

// at returns the i-th element from the front.
func (q *ring[T]) at(i int) *T { return &q.buf[(q.head+i)&(len(q.buf)-1)] }

// pop removes the first element, which must exist. It leaves the slot as
// it is: a caller whose elements hold references clears them in front()
// first, more cheaply than a generic clear of the whole element would.
func (q *ring[T]) pop() {
	q.head = (q.head + 1) & (len(q.buf) - 1)
	q.n--
}

// reset empties the queue, keeping its memory.
func (q *ring[T]) reset() {
	clear(q.buf)
	q.head, q.n = 0, 0
}

func (q *ring[T]) grow() {
	size := max(2*len(q.buf), 8)
	buf := make([]T, size)
	for i := range q.n {
		buf[i] = *q.at(i)
	}
	q.buf, q.head = buf, 0
}
