package transport

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"reflect"
	"slices"
	"testing"
	"time"
)

// script drives a network through a fixed sequence of calls, the same for
// every run, and returns everything it delivered.
func script(seed uint64, f Faults) []Delivery {
	n := NewNetwork(seed, f)
	var out []Delivery
	for step := range 3000 {
		now := time.Duration(step) * 100 * time.Microsecond
		switch step {
		case 1000:
			n.Partition([]netip.AddrPort{Addr(0), Addr(1)}, []netip.AddrPort{Addr(2)})
		case 1500:
			n.Heal()
		case 2000:
			n.SetFaults(Faults{Loss: 0.3, Delay: 2 * time.Millisecond})
		}
		n.Send(now, Addr(step%5), Addr((step*3+1)%5), fmt.Appendf(nil, "datagram %d", step))
		if step%7 == 0 {
			out = n.Due(now, out)
		}
	}
	return n.Due(math.MaxInt64, out)
}

var noisy = Faults{Loss: 0.1, Duplicate: 0.1, Reorder: 0.2, Delay: 5 * time.Millisecond}

func TestNetworkDeterministic(t *testing.T) {
	a, b := script(42, noisy), script(42, noisy)
	if len(a) == 0 {
		t.Fatal("nothing delivered")
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("same seed and calls gave different deliveries")
	}
	if c := script(43, noisy); reflect.DeepEqual(a, c) {
		t.Fatal("a different seed gave the same deliveries")
	}
	for i := 1; i < len(a); i++ {
		if a[i].At < a[i-1].At {
			t.Fatalf("delivery %d at %v comes after one at %v", i, a[i].At, a[i-1].At)
		}
	}
}

// seqPayload and payloadSeq number the datagrams of a test stream.
func seqPayload(i int) []byte { return binary.BigEndian.AppendUint32(nil, uint32(i)) }
func payloadSeq(p []byte) int { return int(binary.BigEndian.Uint32(p)) }

// stream sends count numbered datagrams from Addr(0) to Addr(1), one every
// gap, and returns what arrives.
func stream(n *Network, count int, gap time.Duration) []Delivery {
	for i := range count {
		n.Send(time.Duration(i)*gap, Addr(0), Addr(1), seqPayload(i))
	}
	return n.Due(math.MaxInt64, nil)
}

func TestNetworkLossRate(t *testing.T) {
	const sends, loss = 100_000, 0.25
	n := NewNetwork(7, Faults{Loss: loss})
	got := stream(n, sends, 0)
	rate := 1 - float64(len(got))/sends
	if math.Abs(rate-loss) > 0.01 {
		t.Errorf("loss rate %.4f, want about %.2f", rate, loss)
	}
	s := n.Stats()
	if s.Sent != sends || s.Dropped+s.Delivered != sends || s.Delivered != uint64(len(got)) {
		t.Errorf("stats %+v do not add up to %d sends and %d deliveries", s, sends, len(got))
	}
}

func TestNetworkDuplicates(t *testing.T) {
	const sends = 10_000
	n := NewNetwork(7, Faults{Duplicate: 0.3})
	got := stream(n, sends, time.Microsecond)
	seen := make(map[int]int)
	for _, d := range got {
		seen[payloadSeq(d.Data)]++
	}
	twice := 0
	for i := range sends {
		switch seen[i] {
		case 1:
		case 2:
			twice++
		default:
			t.Fatalf("datagram %d delivered %d times", i, seen[i])
		}
	}
	if twice == 0 || uint64(twice) != n.Stats().Duplicated {
		t.Errorf("%d duplicated, stats say %d", twice, n.Stats().Duplicated)
	}
	if twice < sends/5 || twice > sends*2/5 {
		t.Errorf("%d of %d duplicated, want about 30%%", twice, sends)
	}
}

// overtaken counts deliveries that arrive after a later-sent datagram.
func overtaken(got []Delivery) int {
	count, highest := 0, -1
	for _, d := range got {
		seq := payloadSeq(d.Data)
		if seq < highest {
			count++
		}
		highest = max(highest, seq)
	}
	return count
}

func TestNetworkReorder(t *testing.T) {
	for _, tc := range []struct {
		name    string
		f       Faults
		reorder bool
	}{
		{"perfect", Faults{}, false},
		{"loss and duplicates", Faults{Loss: 0.2, Duplicate: 0.2}, false},
		{"reorder without delay", Faults{Reorder: 0.1}, true},
		{"delay", Faults{Delay: time.Millisecond}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := NewNetwork(3, tc.f)
			got := overtaken(stream(n, 5000, 10*time.Microsecond))
			if tc.reorder && got == 0 {
				t.Error("nothing was overtaken")
			}
			if !tc.reorder && got != 0 {
				t.Errorf("%d datagrams overtaken without Reorder or Delay", got)
			}
			if tc.f.Reorder > 0 && n.Stats().Reordered == 0 {
				t.Error("Reordered not counted")
			}
		})
	}
}

func TestNetworkPartition(t *testing.T) {
	a, b, c, d := Addr(0), Addr(1), Addr(2), Addr(3)
	n := NewNetwork(1, Faults{})
	reaches := func(from, to netip.AddrPort) bool {
		n.Send(0, from, to, []byte("x"))
		return len(n.Due(0, nil)) == 1
	}

	n.Partition([]netip.AddrPort{a, b}, []netip.AddrPort{c})
	for _, tc := range []struct {
		from, to netip.AddrPort
		want     bool
	}{
		{a, b, true}, {b, a, true},
		{a, c, false}, {c, a, false},
		{d, a, false}, {c, d, false}, // unlisted d is a side of its own
		{d, d, true}, {c, c, true},
	} {
		if got := reaches(tc.from, tc.to); got != tc.want {
			t.Errorf("partitioned: %v reaches %v = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
	if s := n.Stats(); s.Partitioned != 4 {
		t.Errorf("Partitioned = %d, want 4", s.Partitioned)
	}

	n.Heal()
	for _, p := range [][2]netip.AddrPort{{a, c}, {c, a}, {d, b}} {
		if !reaches(p[0], p[1]) {
			t.Errorf("healed: %v does not reach %v", p[0], p[1])
		}
	}

	// A cut also loses what is already on the wire.
	n.SetFaults(Faults{Delay: 10 * time.Millisecond})
	n.Send(0, a, c, []byte("in flight"))
	n.Partition([]netip.AddrPort{a})
	if got := n.Due(time.Second, nil); len(got) != 0 {
		t.Errorf("datagram in flight crossed a new partition")
	}
}

func TestNetworkPartitionRejectsAddressOnTwoSides(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("no panic")
		}
	}()
	NewNetwork(1, Faults{}).Partition([]netip.AddrPort{Addr(0)}, []netip.AddrPort{Addr(0)})
}

func TestNetworkDetach(t *testing.T) {
	n := NewNetwork(1, Faults{})
	n.Detach(Addr(0))
	n.Send(0, Addr(0), Addr(1), []byte("out"))
	n.Send(0, Addr(1), Addr(0), []byte("in"))
	n.Send(0, Addr(1), Addr(2), []byte("others"))
	if got := n.Due(0, nil); len(got) != 1 || string(got[0].Data) != "others" {
		t.Fatalf("detached: got %v", got)
	}
	n.Attach(Addr(0))
	n.Send(0, Addr(0), Addr(1), []byte("out"))
	if got := n.Due(0, nil); len(got) != 1 {
		t.Fatal("attached address still cut off")
	}
}

func TestNetworkSendCopies(t *testing.T) {
	n := NewNetwork(1, Faults{Duplicate: 1})
	buf := []byte("hello")
	n.Send(0, Addr(0), Addr(1), buf)
	copy(buf, "XXXXX")
	got := n.Due(0, nil)
	if len(got) != 2 {
		t.Fatalf("got %d deliveries, want 2", len(got))
	}
	for _, d := range got {
		if string(d.Data) != "hello" {
			t.Fatalf("delivered %q, want the bytes at the time of Send", d.Data)
		}
	}
	got[0].Data[0] = 'J'
	if string(got[1].Data) != "hello" {
		t.Fatal("duplicates share their bytes")
	}
}

func TestNetworkNextDue(t *testing.T) {
	n := NewNetwork(9, Faults{Delay: 10 * time.Millisecond})
	if _, ok := n.NextDue(); ok {
		t.Fatal("NextDue on an empty network")
	}
	for i := range 20 {
		n.Send(time.Duration(i)*time.Millisecond, Addr(0), Addr(1), seqPayload(i))
	}
	var all []Delivery
	for {
		at, ok := n.NextDue()
		if !ok {
			break
		}
		if got := n.Due(at-1, nil); len(got) != 0 {
			t.Fatalf("Due before NextDue %v delivered %d", at, len(got))
		}
		got := n.Due(at, nil)
		if len(got) == 0 || got[0].At != at {
			t.Fatalf("Due at NextDue %v delivered %v", at, got)
		}
		all = append(all, got...)
	}
	if len(all) != 20 {
		t.Fatalf("delivered %d, want 20", len(all))
	}
	if !slices.IsSortedFunc(all, func(a, b Delivery) int { return int(a.At - b.At) }) {
		t.Fatal("deliveries out of time order")
	}
}

func TestNetworkFaultsClamped(t *testing.T) {
	n := NewNetwork(1, Faults{Loss: 2, Delay: -time.Second})
	got := stream(n, 100, 0)
	if len(got) != 0 {
		t.Fatalf("Loss above 1 let %d through", len(got))
	}
	n.SetFaults(Faults{Loss: math.NaN(), Duplicate: -1, Delay: -1})
	if got := stream(n, 100, 0); len(got) != 100 {
		t.Fatalf("clamped faults delivered %d of 100", len(got))
	}
}

func TestAddr(t *testing.T) {
	if got := Addr(3).String(); got != "127.0.0.1:10003" {
		t.Errorf("Addr(3) = %s", got)
	}
	if Addr(0) == Addr(1) {
		t.Error("members share an address")
	}
}
