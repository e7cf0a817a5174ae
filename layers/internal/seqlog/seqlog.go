// Package seqlog is the sequence-numbered message log that the reliable
// layers keep for each stream: the messages not yet known to be stable,
// delivered or not, indexed by sequence number.
//
// A log covers the sequence numbers [Low, Known): those below Next have been
// delivered in order, those from Next on are held out of order or missing.
// It is a ring of slots that grows by doubling up to a limit. Not safe for
// concurrent use; the zero value is an empty log starting at sequence 0.
package seqlog

import "github.com/conclave-go/conclave/layers"

// Result says what Put did with a message.
type Result uint8

const (
	Stored    Result = iota // a new message, held
	Duplicate               // already held or already delivered
	Full                    // beyond the log's limit; dropped
)

type slot struct {
	msg layers.Message
	ok  bool
}

// Log is one stream's message log.
type Log struct {
	ring  []slot // len is a power of two, or zero
	low   uint64
	next  uint64
	known uint64
}

// Low is the lowest sequence number still held.
func (l *Log) Low() uint64 { return l.low }

// Next is the next sequence number to deliver: the count delivered so far.
func (l *Log) Next() uint64 { return l.next }

// Known is one past the highest sequence number known to exist.
func (l *Log) Known() uint64 { return l.known }

// Missing reports whether some message before Known has not arrived.
func (l *Log) Missing() bool { return l.known > l.next }

// Learn records that messages up to known (exclusive) exist.
func (l *Log) Learn(known uint64) {
	if known > l.known {
		l.known = known
	}
}

// Put stores the message with sequence number seq unless it is a duplicate
// or would grow the log past limit slots (zero: no limit).
func (l *Log) Put(seq uint64, m *layers.Message, limit int) Result {
	if seq < l.next {
		return Duplicate
	}
	span := seq - l.low + 1
	if span > uint64(len(l.ring)) {
		if limit > 0 && span > uint64(limit) {
			return Full
		}
		l.grow(span)
	}
	s := &l.ring[seq&uint64(len(l.ring)-1)]
	if s.ok {
		return Duplicate
	}
	s.msg, s.ok = *m, true
	l.Learn(seq + 1)
	return Stored
}

func (l *Log) grow(span uint64) {
	n := max(len(l.ring), 16)
	for uint64(n) < span {
		n *= 2
	}
	ring := make([]slot, n)
	for seq := l.low; seq < min(l.known, l.low+uint64(len(l.ring))); seq++ {
		if old := l.ring[seq&uint64(len(l.ring)-1)]; old.ok {
			ring[seq&uint64(n-1)] = old
		}
	}
	l.ring = ring
}

// Get returns the message with sequence number seq, if held.
func (l *Log) Get(seq uint64) (*layers.Message, bool) {
	// Known may run ahead of the ring (Learn), so the ring's own span is
	// checked too: a slot outside it belongs to another sequence number.
	if seq < l.low || seq >= l.known || seq-l.low >= uint64(len(l.ring)) {
		return nil, false
	}
	s := &l.ring[seq&uint64(len(l.ring)-1)]
	if !s.ok {
		return nil, false
	}
	return &s.msg, true
}

// Deliverable reports whether the message at Next has arrived.
func (l *Log) Deliverable() bool {
	_, ok := l.Get(l.next)
	return ok
}

// Pop returns a copy of the message at Next and advances Next. It must only
// be called when Deliverable. The message stays held until Release.
func (l *Log) Pop() layers.Message {
	m := l.ring[l.next&uint64(len(l.ring)-1)].msg
	l.next++
	return m
}

// Append stores m as the next message of a stream this member originates
// and marks it delivered. It returns the message's sequence number.
func (l *Log) Append(m *layers.Message) uint64 {
	seq := l.next
	l.Put(seq, m, 0)
	l.next++
	return seq
}

// Release forgets every message below upTo (but never one not yet
// delivered), so that the log no longer keeps its body alive.
func (l *Log) Release(upTo uint64) {
	upTo = min(upTo, l.next)
	for ; l.low < upTo; l.low++ {
		l.ring[l.low&uint64(len(l.ring)-1)] = slot{}
	}
}

// Held is the number of sequence numbers the log spans.
func (l *Log) Held() uint64 { return l.known - l.low }

// Run is a range of consecutive sequence numbers.
type Run struct{ First, Count uint64 }

// Gaps appends to dst the runs of missing sequence numbers from Next on,
// below Known, until maxRuns runs or limit numbers in all.
func (l *Log) Gaps(dst []Run, maxRuns int, limit uint64) []Run {
	var total uint64
	for seq := l.next; seq < l.known && total < limit && len(dst) < maxRuns; {
		if _, held := l.Get(seq); held {
			seq++
			continue
		}
		end := seq + 1
		for end < l.known && total+end-seq < limit {
			if _, held := l.Get(end); held {
				break
			}
			end++
		}
		dst = append(dst, Run{seq, end - seq})
		total += end - seq
		seq = end
	}
	return dst
}
