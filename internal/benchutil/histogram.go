package benchutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Histogram counts non-negative values (nanoseconds, say) in log-linear
// buckets: values below 64 have a bucket each, and every power-of-two range
// above is split into 32 equal buckets, so a quantile is off by at most
// 1/64 of its value. Its size is fixed (about 15 KiB) however many values
// it records. The zero value is ready to use; it is not safe for concurrent
// use.
//
// It marshals to JSON as its non-empty buckets, so that histograms recorded
// in different processes can be sent to one place and merged.
type Histogram struct {
	counts   []uint64 // allocated on first Record
	n        uint64
	min, max uint64
}

const (
	subBits    = 5
	subBuckets = 1 << subBits // buckets per power of two
	numBuckets = (64-subBits)*subBuckets + subBuckets
)

// bucket maps v to its bucket index. Values below 2·subBuckets map to
// themselves; above, the index is made of the position of the highest set
// bit and the subBits bits below it.
func bucket(v uint64) int {
	if v < 2*subBuckets {
		return int(v)
	}
	shift := bits.Len64(v) - subBits - 1
	return shift*subBuckets + int(v>>shift)
}

// bucketRange returns the smallest value of bucket i and the bucket's width.
func bucketRange(i int) (low, width uint64) {
	if i < 2*subBuckets {
		return uint64(i), 1
	}
	shift := i/subBuckets - 1
	m := uint64(i%subBuckets + subBuckets)
	return m << shift, 1 << shift
}

// Record adds one value; negative values count as zero.
func (h *Histogram) Record(v int64) {
	if v < 0 {
		v = 0
	}
	u := uint64(v)
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	h.counts[bucket(u)]++
	if h.n == 0 || u < h.min {
		h.min = u
	}
	if u > h.max {
		h.max = u
	}
	h.n++
}

// Count is the number of values recorded.
func (h *Histogram) Count() uint64 { return h.n }

// Max is the largest value recorded, 0 if none.
func (h *Histogram) Max() uint64 { return h.max }

// Quantile returns the value below which a fraction q (0…1) of the recorded
// values lie: the middle of the bucket holding it, kept within the smallest
// and largest value recorded, which are exact for q = 0 and q = 1. It
// returns 0 for an empty histogram.
func (h *Histogram) Quantile(q float64) float64 {
	switch {
	case h.n == 0:
		return 0
	case q <= 0:
		return float64(h.min)
	case q >= 1:
		return float64(h.max)
	}
	rank := max(uint64(math.Ceil(q*float64(h.n))), 1)
	var seen uint64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			low, width := bucketRange(i)
			mid := float64(low) + float64(width-1)/2
			return min(max(mid, float64(h.min)), float64(h.max))
		}
	}
	return float64(h.max)
}

// Merge adds every value recorded in o.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	if h.counts == nil {
		h.counts = make([]uint64, numBuckets)
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// histogramJSON is the wire form: Buckets holds [index, count] pairs for
// the non-empty buckets, in index order.
type histogramJSON struct {
	Min     uint64      `json:"min"`
	Max     uint64      `json:"max"`
	Buckets [][2]uint64 `json:"buckets"`
}

// MarshalJSON implements json.Marshaler.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	w := histogramJSON{Min: h.min, Max: h.max, Buckets: [][2]uint64{}}
	for i, c := range h.counts {
		if c != 0 {
			w.Buckets = append(w.Buckets, [2]uint64{uint64(i), c})
		}
	}
	return json.Marshal(w)
}

// UnmarshalJSON implements json.Unmarshaler. It refuses bucket indexes out
// of range, repeated or unordered buckets, empty buckets and a minimum or
// maximum that does not fit the buckets.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var w histogramJSON
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*h = Histogram{}
	if len(w.Buckets) == 0 {
		if w.Min != 0 || w.Max != 0 {
			return errors.New("benchutil: histogram: min or max without values")
		}
		return nil
	}
	h.counts = make([]uint64, numBuckets)
	next := uint64(0)
	for _, bc := range w.Buckets {
		i, c := bc[0], bc[1]
		if i >= numBuckets || i < next {
			return fmt.Errorf("benchutil: histogram: bucket %d out of range or order", i)
		}
		if c == 0 || h.n+c < h.n {
			return fmt.Errorf("benchutil: histogram: bad count in bucket %d", i)
		}
		h.counts[i] = c
		h.n += c
		next = i + 1
	}
	first := uint64(bucket(w.Min))
	last := uint64(bucket(w.Max))
	if w.Min > w.Max || first != w.Buckets[0][0] || last != w.Buckets[len(w.Buckets)-1][0] {
		return errors.New("benchutil: histogram: min or max outside the buckets")
	}
	h.min, h.max = w.Min, w.Max
	return nil
}
