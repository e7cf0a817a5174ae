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
	const casts, sends = 2000, 500
	from, to := 100*time.Millisecond, 600*time.Millisecond
	ops := workload(rand.New(rand.NewPCG(1, 2)), casts, sends, from, to)
	again := workload(rand.New(rand.NewPCG(1, 2)), casts, sends, from, to)
	if !reflect.DeepEqual(ops, again) {
		t.Fatal("workload is not deterministic")
	}
	var large, nc, ns int
	for i, o := range ops {
		if o.at < from || o.at >= to || (i > 0 && o.at < ops[i-1].at) {
			t.Fatalf("op %d at %v: out of order or outside [%v, %v)", i, o.at, from, to)
		}
		if o.to != -1 || o.final {
			t.Fatalf("op %d: %+v", i, o)
		}
		if o.size > smallMax {
			large++
		}
		if o.kind == KindCast {
			nc++
		} else {
			ns++
		}
	}
	if nc != casts || ns != sends {
		t.Errorf("%d casts and %d sends, want %d and %d", nc, ns, casts, sends)
	}
	if share := float64(large) / float64(len(ops)); share < 0.01 || share > 0.03 {
		t.Errorf("%.3f of messages are large, want about %.2f", share, largeShare)
	}
}

func TestDestination(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const members, self = 5, 2
	count := make([]int, members)
	for range 10000 {
		count[destination(rng.Uint64(), self, members)]++
	}
	if share := float64(count[self]) / 10000; share < 0.03 || share > 0.07 {
		t.Errorf("%.3f of sends to self, want about %.2f", share, selfSendShare)
	}
	for to, n := range count {
		if to != self && n < 2000 {
			t.Errorf("member %d got %d of 10000 sends", to, n)
		}
	}
	if got := destination(12345, 0, 1); got != 0 {
		t.Errorf("alone, a send goes to %d", got)
	}
}
