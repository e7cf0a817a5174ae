package seqlog

import "time"

// MaxServedRuns bounds the runs of retransmissions a Served remembers per
// interval; once it is full the requester gets nothing more until the next.
const MaxServedRuns = 64

// ServedSize is the bytes a Served occupies at most.
const ServedSize = 48 + MaxServedRuns*24

// Served limits the retransmissions one requester gets, however often and
// however much it asks: each message at most once per interval, and at most
// a budget of messages per interval. Among members, whose addresses are
// proven, this bounds what a flood of negative acknowledgements can make a
// member send to the bytes of budget messages per interval. The zero value
// is ready to use.
type Served struct {
	start time.Duration // the current interval began
	asked int           // Allow calls in it
	sent  int           // messages retransmitted in it
	runs  []servedRun   // which, as runs
}

// maxAskedPerBudget bounds the Allow calls per interval, as a multiple of
// the budget, past which everything is refused at once: so the work spent
// on refusing repeats is bounded too, not only the bytes sent.

type servedRun struct {
	origin       int
	first, count uint64
}

// Verdict says whether a retransmission may go out.
type Verdict uint8

const (
	Allowed    Verdict = iota // send it; it is recorded
	Repeated                  // already sent to this requester in this interval
	OverBudget                // the requester's budget for this interval is spent
)

const maxAskedPerBudget = 4

// Allow decides whether message seq of origin's stream may be retransmitted
// to the requester at now, and records it if so. It costs at most
// MaxServedRuns comparisons, and once the requester has asked for more
// than 4×budget messages in the interval, a constant.
func (s *Served) Allow(now, interval time.Duration, budget int, origin int, seq uint64) Verdict {
	if now-s.start >= interval || now < s.start {
		s.start, s.asked, s.sent, s.runs = now, 0, 0, s.runs[:0]
	}
	if s.asked++; s.asked > maxAskedPerBudget*budget {
		return OverBudget
	}
	for _, r := range s.runs {
		// seq >= r.first is checked first, so seq-r.first does not wrap.
		if r.origin == origin && seq >= r.first && seq-r.first < r.count {
			return Repeated
		}
	}
	if s.sent >= budget {
		return OverBudget
	}
	if n := len(s.runs); n > 0 && s.runs[n-1].origin == origin && s.runs[n-1].first+s.runs[n-1].count == seq {
		s.runs[n-1].count++
	} else {
		if n == MaxServedRuns {
			return OverBudget
		}
		if s.runs == nil {
			s.runs = make([]servedRun, 0, MaxServedRuns)
		}
		s.runs = append(s.runs, servedRun{origin, seq, 1})
	}
	s.sent++
	return Allowed
}

// Footprint is the bytes s holds.
func (s *Served) Footprint() int { return 48 + cap(s.runs)*24 }
