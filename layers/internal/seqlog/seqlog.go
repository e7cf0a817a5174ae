// Package seqlog is the sequence-numbered message log that the reliable
// layers keep for each stream: the messages not yet known to be stable,
// delivered or not, indexed by sequence number.
//
// A log covers the sequence numbers [Low, Known): those below Next have been
// delivered in order, those from Next on are held out of order or missing.
// It is a ring of slots that grows by doubling up to a limit, and shrinks
// back (Trim) once the messages it held have been released. Not safe for
// concurrent use; the zero value is an empty log starting at sequence 0.
//
// Every sequence number from the network is checked against the window
// before any arithmetic: Put and Learn accept only numbers below Low plus
// the caller's window, comparing seq-Low < window only after seq >= Low, so
// that no sum can overflow. A slot once filled is never replaced: a second
// message with the same number is a duplicate, whatever its bytes.
package seqlog

import (
	"math"
	"unsafe"

	"github.com/conclave-go/conclave/layers"
)

// Result says what Put did with a message.
type Result uint8

const (
	Stored    Result = iota // a new message, held
	Duplicate               // already held or already delivered
	Full                    // beyond the log's window; dropped
)

// minRing is the ring's smallest size once it holds anything.
const minRing = 16

// SlotSize is the bytes one ring slot occupies, message head room included.
const SlotSize = int(unsafe.Sizeof(slot{}))

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
	bytes int    // message bytes held in the ring
	peak  uint64 // the largest span from Low stored since the last Trim
}

// Low is the lowest sequence number still held.
func (l *Log) Low() uint64 { return l.low }

// Next is the next sequence number to deliver: the count delivered so far.
func (l *Log) Next() uint64 { return l.next }

// Known is one past the highest sequence number known to exist.
func (l *Log) Known() uint64 { return l.known }

// Missing reports whether some message before Known has not arrived.
func (l *Log) Missing() bool { return l.known > l.next }

// Learn records that messages up to known (exclusive) exist, but never
// beyond Low plus window (zero: no limit): a claim from the network cannot
// make the log expect, and ask for, more than its window holds. It reports
// whether known was within the window.
func (l *Log) Learn(known uint64, window int) bool {
	if known <= l.known {
		return true
	}
	// known > l.known >= l.low, so known-l.low does not wrap.
	if window > 0 && known-l.low > uint64(window) {
		l.known = max(l.known, l.low+uint64(window))
		return false
	}
	l.known = known
	return true
}

// Put stores the message with sequence number seq unless it is a duplicate
// or lies at or beyond Low plus window (zero: no limit), or is the largest
// uint64. An occupied slot is never replaced.
func (l *Log) Put(seq uint64, m *layers.Message, window int) Result {
	if seq < l.next {
		return Duplicate
	}
	// seq >= next >= low: the difference does not wrap. The largest
	// number is never stored, so that Known, one past it, cannot wrap.
	off := seq - l.low
	if seq == math.MaxUint64 || window > 0 && off >= uint64(window) {
		return Full
	}
	if off >= uint64(len(l.ring)) {
		// Without a window (a stream this member originates) the
		// offset is bounded by what the member itself has sent.
		l.resize(off + 1)
	}
	s := &l.ring[seq&uint64(len(l.ring)-1)]
	if s.ok {
		return Duplicate
	}
	s.msg, s.ok = *m, true
	l.bytes += m.Len()
	l.peak = max(l.peak, off+1)
	if seq >= l.known {
		l.known = seq + 1
	}
	return Stored
}

// resize moves the held messages to a ring of the smallest power of two,
// at least minRing, that covers span sequence numbers from Low.
func (l *Log) resize(span uint64) {
	n := minRing
	for uint64(n) < span {
		n *= 2
	}
	ring := make([]slot, n)
	end := l.low + min(uint64(len(l.ring)), span)
	for seq := l.low; seq < end; seq++ {
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

// Forget discards the messages from sequence number from on, delivered or
// held, and sets Next back to from, so that they count as missing again
// (Known stays: they exist) and are asked for, and delivered, anew. The
// layer above refused one of them: a copy an insider altered took the real
// message's place. It reports false, and changes nothing, unless from was
// delivered and is still held (Low <= from < Next): a refusal of anything
// else names no copy this log took.
func (l *Log) Forget(from uint64) bool {
	if from < l.low || from >= l.next {
		return false
	}
	// The slots in use lie within len(ring) of Low and below Known;
	// known >= next > from >= low, so no difference wraps.
	span := min(l.known-l.low, uint64(len(l.ring)))
	for off := from - l.low; off < span; off++ {
		s := &l.ring[(l.low+off)&uint64(len(l.ring)-1)]
		if s.ok {
			l.bytes -= s.msg.Len()
		}
		*s = slot{}
	}
	l.next = from
	return true
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
		s := &l.ring[l.low&uint64(len(l.ring)-1)]
		if s.ok {
			l.bytes -= s.msg.Len()
		}
		*s = slot{}
	}
}

// Trim shrinks the ring if, since the last Trim, the messages it held never
// spanned more than a quarter of it, so that a burst, or a hostile message
// at the window's edge, does not pin its memory for the rest of the view.
// Callers trim now and then (each log's owner, on a timer): a stream that
// fills and empties its ring between two trims keeps it, rather than
// shrinking and growing it again on every cycle.
func (l *Log) Trim() {
	n := len(l.ring)
	// Slots in use lie in [low, low+n) and below known.
	now := min(l.known-l.low, uint64(n))
	span := max(l.peak, now)
	l.peak = now
	if n <= minRing || span > uint64(n/4) {
		return
	}
	l.resize(2 * span)
}

// Footprint is the bytes the log holds: its slots and the messages in them.
func (l *Log) Footprint() int { return len(l.ring)*SlotSize + l.bytes }

// FootprintBound is the most Footprint can be for a log whose Put is given
// window and whose messages are at most maxMsg bytes long.
func FootprintBound(window, maxMsg int) int {
	n := minRing
	for n < window {
		n *= 2
	}
	return n*SlotSize + window*maxMsg
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
