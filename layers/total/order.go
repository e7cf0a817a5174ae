package total

import (
	"errors"

	"github.com/conclave-go/conclave/internal/wire"
)

// MaxOrderCount bounds the casts one ORDER message names. Receivers refuse
// an ORDER naming more; a sequencer's batch never does.
const MaxOrderCount = 1 << 16

// Errors returned by ParseOrder besides the wire package's. They carry no
// data from the input.
var (
	ErrEmptyOrder    = errors.New("total: order names no casts")
	ErrEmptyRun      = errors.New("total: order run of zero casts")
	ErrSplitRun      = errors.New("total: order run continues the previous one")
	ErrOrderTooLarge = errors.New("total: order names too many casts")
	ErrBadViewSize   = errors.New("total: view size below one")
)

// Run is a run of an ORDER message: deliver the next Count held casts of
// member Origin, in their FIFO order.
type Run struct {
	Origin int
	Count  int
}

// AppendOrder appends the encoding of runs to b: per run, origin uvarint
// and count uvarint. Runs must be canonical (see ParseOrder) for the result
// to parse.
func AppendOrder(b []byte, runs []Run) []byte {
	for _, r := range runs {
		b = wire.AppendUvarint(b, uint64(r.Origin))
		b = wire.AppendUvarint(b, uint64(r.Count))
	}
	return b
}

// runLen is the longest encoding of a run in a view of n members.
func runLen(n int) int { return wire.UvarintLen(uint64(n-1)) + wire.UvarintLen(MaxOrderCount) }

// ParseOrder parses the body of an ORDER message (after its tag) for a view
// of n members and appends its runs to out. It accepts only the canonical
// encoding, so that every order has exactly one: at least one run, every
// origin below n, every count at least one, no two adjacent runs of the same
// origin (they would be one run), at most MaxOrderCount casts in all,
// minimal varints and nothing after the last run. On error out is returned
// unchanged.
func ParseOrder(b []byte, n int, out []Run) ([]Run, error) {
	if n < 1 {
		return out, ErrBadViewSize
	}
	start, total := len(out), 0
	r := wire.NewReader(b)
	for r.Len() > 0 {
		origin := int(r.UvarintMax(uint64(n - 1)))
		count := int(r.UvarintMax(MaxOrderCount))
		switch {
		case r.Err() != nil:
			return out[:start], r.Err()
		case count == 0:
			return out[:start], ErrEmptyRun
		case len(out) > start && out[len(out)-1].Origin == origin:
			return out[:start], ErrSplitRun
		}
		total += count
		if total > MaxOrderCount {
			return out[:start], ErrOrderTooLarge
		}
		out = append(out, Run{Origin: origin, Count: count})
	}
	if len(out) == start {
		return out, ErrEmptyOrder
	}
	return out, nil
}
