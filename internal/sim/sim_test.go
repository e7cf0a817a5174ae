package sim

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var allFaults = Faults{Loss: PresetLoss, Duplicate: PresetDuplicate, Reorder: PresetReorder, Delay: PresetDelay}

func config(seed uint64, f Faults) Config {
	return Config{Seed: seed, Members: 3, Messages: 100, Sends: 25, Faults: f}
}

func mustRun(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestRunIsDeterministic(t *testing.T) {
	a := mustRun(t, config(7, allFaults))
	b := mustRun(t, config(7, allFaults))
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed gave different results:\n%+v\n%+v", a, b)
	}
	c := mustRun(t, config(8, allFaults))
	if c.Trace == a.Trace {
		t.Fatalf("seeds 7 and 8 gave the same trace %x", a.Trace)
	}
	// The trace covers the network too: the same workload on another
	// network gives another trace.
	d := mustRun(t, config(7, Faults{}))
	if d.Trace == a.Trace {
		t.Fatalf("faults did not change the trace %x", a.Trace)
	}
}

func TestCleanRun(t *testing.T) {
	for seed := range uint64(5) {
		res := mustRun(t, config(seed, Faults{}))
		if !res.OK() {
			t.Fatalf("seed %d: %q", seed, res.Violations)
		}
		if want := 3*3*100 + 3*25; res.Sent != 3*125 || res.Delivered != want {
			t.Fatalf("seed %d: sent %d, delivered %d, want %d and %d", seed, res.Sent, res.Delivered, 3*125, want)
		}
		if res.Net.Dropped+res.Net.Duplicated+res.Net.Reordered != 0 || res.Drops != 0 {
			t.Fatalf("seed %d: faults on a perfect network: %+v, %d drops", seed, res.Net, res.Drops)
		}
		if res.VirtualTime > res.Config.Active+10*time.Millisecond {
			t.Errorf("seed %d: a perfect network took until %v", seed, res.VirtualTime)
		}
	}
}

// TestFaultyRuns is the simulator's reason to exist: loss, duplication,
// reordering and delay, and still every guarantee holds.
func TestFaultyRuns(t *testing.T) {
	failed := 0
	for seed := uint64(1); seed <= 40; seed++ {
		res := mustRun(t, config(seed, allFaults))
		if res.Net.Dropped == 0 || res.Net.Duplicated == 0 || res.Net.Reordered == 0 {
			t.Fatalf("seed %d: faults not injected: %+v", seed, res.Net)
		}
		if !res.OK() {
			failed++
			t.Errorf("seed %d (replay: Run(%+v)):\n  %s", seed, res.Config, strings.Join(res.Violations, "\n  "))
		}
	}
	if failed > 0 {
		t.Errorf("%d of 40 seeds failed", failed)
	}
}

func TestGroupSizes(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			res := mustRun(t, Config{Seed: 3, Members: n, Messages: 30, Sends: 10, Faults: Faults{Loss: 0.1, Reorder: 0.1}})
			if !res.OK() {
				t.Fatalf("%q", res.Violations)
			}
			if want := n*n*30 + n*10; res.Delivered != want {
				t.Fatalf("delivered %d, want %d", res.Delivered, want)
			}
		})
	}
}

// TestRunReportsLiveness checks the checker end to end: on a network that
// loses everything, nothing reaches the other member by the deadline.
func TestRunReportsLiveness(t *testing.T) {
	res := mustRun(t, Config{Seed: 1, Members: 2, Messages: 3, Faults: Faults{Loss: 1}, Deadline: time.Second})
	if res.OK() {
		t.Fatal("no violation on a network that loses everything")
	}
	want := []string{
		"member 0: 3 of 3 casts from 1 undelivered at the deadline, first cast 1 #0",
		"member 1: 3 of 3 casts from 0 undelivered at the deadline, first cast 0 #0",
	}
	for _, w := range want {
		found := false
		for _, v := range res.Violations {
			found = found || strings.HasPrefix(v, w)
		}
		if !found {
			t.Errorf("no violation %q in %q", w, res.Violations)
		}
	}
	if res.VirtualTime != res.Config.Active+time.Second {
		t.Errorf("stopped at %v, want the deadline", res.VirtualTime)
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Members: 0},
		{Members: MaxMembers + 1},
		{Members: 3, Messages: -1},
		{Members: 3, Step: -time.Millisecond},
	} {
		if _, err := Run(cfg); err == nil {
			t.Errorf("Run(%+v) accepted", cfg)
		}
	}
}
