package seqlog

import (
	"math"

	"github.com/conclave-go/conclave/internal/wire"
)

// AppendRuns encodes runs as a count followed by (first, count) pairs.
func AppendRuns(b []byte, runs []Run) []byte {
	b = wire.AppendUvarint(b, uint64(len(runs)))
	for _, r := range runs {
		b = wire.AppendUvarint(b, r.First)
		b = wire.AppendUvarint(b, r.Count)
	}
	return b
}

// ParseRuns decodes what AppendRuns wrote, which must end the input. It
// accepts 1 to maxRuns runs, each non-empty, in increasing order without
// overlap, with counts adding up to at most limit.
func ParseRuns(r *wire.Reader, dst []Run, maxRuns int, limit uint64) ([]Run, bool) {
	n := r.UvarintMax(uint64(maxRuns))
	var total, floor uint64
	for i := uint64(0); i < n && r.Err() == nil; i++ {
		run := Run{First: r.Uvarint(), Count: r.UvarintMax(limit)}
		if run.Count == 0 || run.First < floor || run.First > math.MaxUint64-run.Count {
			return dst, false
		}
		floor = run.First + run.Count
		total += run.Count
		dst = append(dst, run)
	}
	if r.Done() != nil || n == 0 || total > limit {
		return dst, false
	}
	return dst, true
}
