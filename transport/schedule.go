package transport

import (
	"net/netip"
	"time"
)

// scheduled is one datagram copy in flight inside a Network.
type scheduled struct {
	at       time.Duration
	seq      uint64
	from, to netip.AddrPort
	data     []byte
}

// before orders datagrams by due time, then by send sequence number. The
// sequence numbers are unique, so the order is total and the heap's shape
// can never leak into the delivery order.
func (s *scheduled) before(t *scheduled) bool {
	if s.at != t.at {
		return s.at < t.at
	}
	return s.seq < t.seq
}

// schedule is a binary min-heap of datagrams in flight. It is written out
// rather than built on container/heap, whose interface boxes every pushed
// value.
type schedule []scheduled

func (q schedule) len() int { return len(q) }

// next returns the due time of the earliest datagram.
func (q schedule) next() (time.Duration, bool) {
	if len(q) == 0 {
		return 0, false
	}
	return q[0].at, true
}

func (q *schedule) push(s scheduled) {
	*q = append(*q, s)
	h := *q
	i := len(h) - 1
	for i > 0 {
		parent := (i - 1) / 2
		if !h[i].before(&h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
}

// pop removes and returns the earliest datagram; the heap must not be empty.
func (q *schedule) pop() scheduled {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h[last] = scheduled{} // drop the reference to the data
	h = h[:last]
	*q = h
	i := 0
	for {
		least := i
		if l := 2*i + 1; l < len(h) && h[l].before(&h[least]) {
			least = l
		}
		if r := 2*i + 2; r < len(h) && h[r].before(&h[least]) {
			least = r
		}
		if least == i {
			break
		}
		h[i], h[least] = h[least], h[i]
		i = least
	}
	return top
}
