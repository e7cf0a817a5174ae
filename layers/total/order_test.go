package total_test

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers/total"
)

func TestParseOrder(t *testing.T) {
	runs := []total.Run{{Origin: 2, Count: 1}, {Origin: 0, Count: 300}, {Origin: 2, Count: 7}}
	b := total.AppendOrder(nil, runs)
	got, err := total.ParseOrder(b, 3, nil)
	if err != nil || !slices.Equal(got, runs) {
		t.Fatalf("ParseOrder = %v, %v; want %v", got, err, runs)
	}
	prefix := []total.Run{{Origin: 9, Count: 9}}
	got, err = total.ParseOrder(b, 3, prefix)
	if err != nil || !slices.Equal(got, append(prefix, runs...)) {
		t.Fatalf("ParseOrder appending = %v, %v", got, err)
	}
	if _, err := total.ParseOrder([]byte{0, 1}, 1, nil); err != nil {
		t.Fatalf("one run in a view of one: %v", err)
	}
}

func TestParseOrderRejects(t *testing.T) {
	tooMany := total.AppendOrder(nil, []total.Run{{Origin: 0, Count: total.MaxOrderCount}, {Origin: 1, Count: 1}})
	for _, tc := range []struct {
		name string
		in   []byte
		n    int
		want error
	}{
		{"empty", nil, 3, total.ErrEmptyOrder},
		{"zero count", []byte{1, 0}, 3, total.ErrEmptyRun},
		{"split run", []byte{1, 2, 1, 3}, 3, total.ErrSplitRun},
		{"origin outside view", []byte{3, 1}, 3, wire.ErrTooLarge},
		{"count above limit", append([]byte{0}, wire.AppendUvarint(nil, total.MaxOrderCount+1)...), 3, wire.ErrTooLarge},
		{"too many in all", tooMany, 3, total.ErrOrderTooLarge},
		{"non-minimal origin", []byte{0x81, 0x00, 1}, 3, wire.ErrVarint},
		{"non-minimal count", []byte{1, 0x82, 0x00}, 3, wire.ErrVarint},
		{"missing count", []byte{1, 2, 0}, 3, wire.ErrShort},
		{"truncated varint", []byte{1, 0x80}, 3, wire.ErrShort},
		{"no view", []byte{0, 1}, 0, total.ErrBadViewSize},
	} {
		out := []total.Run{{Origin: 5, Count: 5}}
		got, err := total.ParseOrder(tc.in, tc.n, out)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if !slices.Equal(got, out) {
			t.Errorf("%s: out = %v, want it unchanged", tc.name, got)
		}
	}
}

// FuzzParseOrder checks that the ORDER decoder is strict: whatever it
// accepts is canonical, so it re-encodes to exactly the same bytes, and
// obeys the limits.
func FuzzParseOrder(f *testing.F) {
	f.Add(uint8(3), total.AppendOrder(nil, []total.Run{{Origin: 2, Count: 1}, {Origin: 0, Count: 300}}))
	f.Add(uint8(5), total.AppendOrder(nil, []total.Run{{Origin: 4, Count: total.MaxOrderCount}}))
	f.Add(uint8(1), []byte{0, 1})
	f.Add(uint8(3), []byte{1, 2, 1, 3})
	f.Add(uint8(3), []byte{0x81, 0x00, 1})
	f.Fuzz(func(t *testing.T, n uint8, b []byte) {
		size := int(n%200) + 1
		runs, err := total.ParseOrder(b, size, nil)
		if err != nil {
			if len(runs) != 0 {
				t.Fatalf("error %v with %d runs", err, len(runs))
			}
			return
		}
		if again := total.AppendOrder(nil, runs); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x, re-encodes to %x", b, again)
		}
		sum := 0
		for i, r := range runs {
			if r.Origin < 0 || r.Origin >= size || r.Count < 1 || (i > 0 && runs[i-1].Origin == r.Origin) {
				t.Fatalf("accepted a non-canonical run %v in %v", r, runs)
			}
			sum += r.Count
		}
		if len(runs) == 0 || sum > total.MaxOrderCount {
			t.Fatalf("accepted %d runs naming %d casts", len(runs), sum)
		}
	})
}
