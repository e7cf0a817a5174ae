package benchutil

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestBucketsTileTheRange(t *testing.T) {
	prevEnd := uint64(0)
	for i := range numBuckets {
		low, width := bucketRange(i)
		if low != prevEnd {
			t.Fatalf("bucket %d starts at %d, want %d", i, low, prevEnd)
		}
		if bucket(low) != i || bucket(low+width-1) != i {
			t.Fatalf("bucket %d = [%d, +%d) does not map back", i, low, width)
		}
		prevEnd = low + width
	}
	if prevEnd != 0 { // the last bucket ends at 2^64, which wraps
		t.Fatalf("buckets end at %d, want 2^64", prevEnd)
	}
	if bucket(math.MaxUint64) != numBuckets-1 {
		t.Fatal("largest value outside the last bucket")
	}
}

func TestQuantileWithinBucketError(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var vals []float64
	for range 100000 {
		v := int64(r.ExpFloat64() * 1e6)
		h.Record(v)
		vals = append(vals, float64(v))
	}
	slices.Sort(vals)
	for _, q := range []float64{0.01, 0.5, 0.9, 0.99, 0.999, 1} {
		want := vals[int(math.Ceil(q*float64(len(vals))))-1]
		got := h.Quantile(q)
		if math.Abs(got-want) > want/64+1 {
			t.Errorf("q%v = %v, want %v ± 1/64", q, got, want)
		}
	}
	if h.Quantile(0) != vals[0] || h.Quantile(1) != vals[len(vals)-1] {
		t.Errorf("q0 %v q1 %v, want the min %v and max %v", h.Quantile(0), h.Quantile(1), vals[0], vals[len(vals)-1])
	}
}

func TestEmptyAndNegative(t *testing.T) {
	var h Histogram
	if h.Quantile(0.5) != 0 || h.Count() != 0 {
		t.Fatal("empty histogram not zero")
	}
	h.Record(-5)
	if h.Quantile(0.99) != 0 || h.Count() != 1 {
		t.Fatal("negative value not recorded as zero")
	}
}

func TestMergeAndJSON(t *testing.T) {
	var a, b, all Histogram
	for v := range int64(5000) {
		x := v * v
		all.Record(x)
		if v%3 == 0 {
			a.Record(x)
		} else {
			b.Record(x)
		}
	}
	var merged Histogram
	for _, h := range []*Histogram{&a, &b, {}} {
		j, err := json.Marshal(h)
		if err != nil {
			t.Fatal(err)
		}
		var back Histogram
		if err := json.Unmarshal(j, &back); err != nil {
			t.Fatalf("%v: %s", err, j)
		}
		merged.Merge(&back)
	}
	if merged.Count() != all.Count() || merged.Max() != all.Max() {
		t.Fatalf("merged %d values max %d, want %d max %d", merged.Count(), merged.Max(), all.Count(), all.Max())
	}
	for _, q := range []float64{0, 0.5, 0.99, 1} {
		if merged.Quantile(q) != all.Quantile(q) {
			t.Errorf("q%v: merged %v, direct %v", q, merged.Quantile(q), all.Quantile(q))
		}
	}
}

func TestUnmarshalStrict(t *testing.T) {
	for _, s := range []string{
		`{"min":0,"max":0,"buckets":[[1920,1]]}`,        // index out of range
		`{"min":1,"max":2,"buckets":[[2,1],[1,1]]}`,     // unordered
		`{"min":1,"max":1,"buckets":[[1,1],[1,1]]}`,     // repeated
		`{"min":1,"max":1,"buckets":[[1,0]]}`,           // empty bucket
		`{"min":0,"max":5,"buckets":[[1,1]]}`,           // min and max outside
		`{"min":3,"max":0,"buckets":[]}`,                // min without values
		`{"min":1,"max":1,"buckets":[[1,1]],"extra":1}`, // unknown field: ignored, valid
	} {
		var h Histogram
		err := json.Unmarshal([]byte(s), &h)
		if (err == nil) != (s[len(s)-4:] == `":1}`) {
			t.Errorf("%s: err = %v", s, err)
		}
	}
}
