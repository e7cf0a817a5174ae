package sim

import (
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

func TestPayloadRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id   ID
		size int
	}{
		{ID{Kind: KindCast, From: 0, Index: 0}, 8},
		{ID{Kind: KindCast, From: 63, Index: 123456}, 8}, // header longer than size
		{ID{Kind: KindSend, From: 2, To: 1, Index: 7}, 200},
		{ID{Kind: KindSend, From: 1, To: 1, Index: 1 << 20}, 40 << 10},
	} {
		p := Payload(9, tc.id, tc.size)
		if len(p) < tc.size {
			t.Errorf("%v: %d bytes, want at least %d", tc.id, len(p), tc.size)
		}
		id, ok := ParsePayload(p)
		if !ok || id != tc.id {
			t.Errorf("ParsePayload(Payload(%v)) = %v, %v", tc.id, id, ok)
		}
		if q := Payload(9, tc.id, tc.size); string(p) != string(q) {
			t.Errorf("%v: payload is not deterministic", tc.id)
		}
		if q := Payload(10, tc.id, tc.size); len(p) > 16 && string(p) == string(q) {
			t.Errorf("%v: payload does not depend on the seed", tc.id)
		}
	}
	for _, b := range [][]byte{nil, {payloadMagic}, {payloadMagic, 3, 0, 0, 0}, {0, 1, 0, 0, 0}, {payloadMagic, 1, 0, 0}} {
		if id, ok := ParsePayload(b); ok {
			t.Errorf("ParsePayload(%x) = %v, want failure", b, id)
		}
	}
}

func TestWorkloadShape(t *testing.T) {
	const members, casts, sends = 4, 2000, 500
	active := 500 * time.Millisecond
	work := workload(rand.New(rand.NewPCG(1, 2)), members, casts, sends, active)
	again := workload(rand.New(rand.NewPCG(1, 2)), members, casts, sends, active)
	if !reflect.DeepEqual(work, again) {
		t.Fatal("workload is not deterministic")
	}
	var large, self, total int
	for from, ops := range work {
		next := map[ID]int{} // stream → next index
		for i, o := range ops {
			if o.at < 0 || o.at >= active || (i > 0 && o.at < ops[i-1].at) {
				t.Fatalf("member %d op %d at %v: out of order or outside the active phase", from, i, o.at)
			}
			if o.id.From != from {
				t.Fatalf("member %d sends %v", from, o.id)
			}
			s := o.id
			s.Index = 0
			if o.id.Index != next[s] {
				t.Fatalf("%v: want index %d", o.id, next[s])
			}
			next[s]++
			if o.size > smallMax {
				large++
			}
			if o.id.Kind == KindSend && o.id.To == from {
				self++
			}
			total++
		}
		if got := next[ID{Kind: KindCast, From: from}]; got != casts {
			t.Errorf("member %d: %d casts, want %d", from, got, casts)
		}
	}
	if total != members*(casts+sends) {
		t.Errorf("%d messages, want %d", total, members*(casts+sends))
	}
	if share := float64(large) / float64(total); share < 0.01 || share > 0.03 {
		t.Errorf("%.3f of messages are large, want about %.2f", share, largeShare)
	}
	if self == 0 {
		t.Error("no member sends to itself")
	}
}
