package sim

import (
	"bytes"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	networkFaults = Faults{Loss: PresetLoss, Duplicate: PresetDuplicate, Reorder: PresetReorder, Delay: PresetDelay}
	everyFault    = mustParse("all")
)

func mustParse(list string) Faults {
	f, err := ParseFaults(list)
	if err != nil {
		panic(err)
	}
	return f
}

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

// failures runs seeds 1 to n of cfg, passes each result to each (if not
// nil) and reports every failing seed.
func failures(t *testing.T, n uint64, cfg Config, each func(*Result)) []Result {
	t.Helper()
	var out []Result
	for seed := uint64(1); seed <= n; seed++ {
		cfg.Seed = seed
		res := mustRun(t, cfg)
		if each != nil {
			each(&res)
		}
		if !res.OK() {
			out = append(out, res)
			t.Errorf("seed %d (replay: Run(%+v)):\n  %s", seed, res.Config, strings.Join(res.Violations, "\n  "))
		}
	}
	if len(out) > 0 {
		t.Errorf("%d of %d seeds failed", len(out), n)
	}
	return out
}

func TestRunIsDeterministic(t *testing.T) {
	for _, f := range []Faults{networkFaults, everyFault} {
		t.Run(f.String(), func(t *testing.T) {
			a := mustRun(t, config(7, f))
			b := mustRun(t, config(7, f))
			if !reflect.DeepEqual(a, b) {
				t.Fatalf("the same seed gave different results:\n%+v\n%+v", a, b)
			}
			c := mustRun(t, config(8, f))
			if c.Trace == a.Trace {
				t.Fatalf("seeds 7 and 8 gave the same trace %x", a.Trace)
			}
		})
	}
	// With the participant, whose secrets and nonces come from the seed.
	cfg := config(7, everyFault)
	cfg.Participant = true
	if a, b := mustRun(t, cfg), mustRun(t, cfg); !reflect.DeepEqual(a, b) {
		t.Fatalf("the same seed with the participant gave different results:\n%+v\n%+v", a, b)
	}
	// The trace covers the network too: the same workload on another
	// network gives another trace.
	a := mustRun(t, config(7, networkFaults))
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
		// The workload, then the final round: 5 casts and a send to each
		// other member, from each member.
		sent := 3*125 + 3*(FinalCasts+2)
		delivered := 3*3*100 + 3*25 + 3*3*FinalCasts + 3*2
		if res.Sent != sent || res.Delivered != delivered {
			t.Fatalf("seed %d: sent %d, delivered %d, want %d and %d", seed, res.Sent, res.Delivered, sent, delivered)
		}
		if res.Net.Dropped+res.Net.Duplicated+res.Net.Reordered+res.Net.Partitioned != 0 {
			t.Fatalf("seed %d: faults on a perfect network: %+v", seed, res.Net)
		}
		if res.Formed > 100*time.Millisecond || res.Converged > res.Config.Step {
			t.Errorf("seed %d: formed at %v, converged after %v", seed, res.Formed, res.Converged)
		}
		// Formation settles, the active phase, convergence settles, the
		// final round.
		if end := res.Formed + Settle + res.Config.Active + Settle + 10*time.Millisecond; res.VirtualTime > end {
			t.Errorf("seed %d: a perfect network took until %v", seed, res.VirtualTime)
		}
		for p, m := range res.Members {
			if m.State != StateUp || m.View != res.Members[0].View || m.Backlog != 0 {
				t.Errorf("seed %d: member %d at the end: %+v", seed, p, m)
			}
		}
	}
}

// TestFaultyRuns: loss, duplication, reordering and delay, and still every
// guarantee holds, the strict one too: everything reaches everyone.
func TestFaultyRuns(t *testing.T) {
	failures(t, 40, config(0, networkFaults), func(res *Result) {
		if res.Net.Dropped == 0 || res.Net.Duplicated == 0 || res.Net.Reordered == 0 {
			t.Fatalf("seed %d: faults not injected: %+v", res.Config.Seed, res.Net)
		}
		if want := 3*3*100 + 3*25 + 3*3*FinalCasts + 3*2; res.Delivered != want {
			t.Errorf("seed %d: delivered %d, want %d", res.Config.Seed, res.Delivered, want)
		}
	})
}

func TestGroupSizes(t *testing.T) {
	for _, n := range []int{1, 2, 7} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			res := mustRun(t, Config{Seed: 3, Members: n, Messages: 30, Sends: 10, Faults: Faults{Loss: 0.1, Reorder: 0.1}})
			if !res.OK() {
				t.Fatalf("%q", res.Violations)
			}
			final := n*n*FinalCasts + n*(n-1)
			if want := n*n*30 + n*10 + final; res.Delivered != want {
				t.Fatalf("delivered %d, want %d", res.Delivered, want)
			}
		})
	}
}

// TestChurn runs every membership fault, alone and all together, and
// checks that each happened and no guarantee broke.
func TestChurn(t *testing.T) {
	for _, tc := range []struct {
		faults string
		seeds  uint64
		happen func(*Result) int
	}{
		{"crash", 8, func(r *Result) int { return min(r.Crashes, r.Restarts) }},
		{"partition", 8, func(r *Result) int { return r.Partitions }},
		{"join", 4, func(r *Result) int { return r.Joins }},
		{"leave", 8, func(r *Result) int { return r.Leaves }},
		{"all", 12, func(r *Result) int { return min(r.Crashes, r.Restarts, r.Partitions, r.Joins, r.Leaves) }},
	} {
		t.Run(tc.faults, func(t *testing.T) {
			cfg := Config{Members: 5, Messages: 30, Sends: 5, Faults: mustParse(tc.faults)}
			happened := 0
			failures(t, tc.seeds, cfg, func(res *Result) {
				happened += tc.happen(res)
				if res.Views <= 3 {
					t.Errorf("seed %d: only %d views", res.Config.Seed, res.Views)
				}
			})
			if happened == 0 {
				t.Errorf("%s: the faults never happened", tc.faults)
			}
		})
	}
}

func TestTotalOrder(t *testing.T) {
	failures(t, 10, Config{Members: 4, Messages: 50, Sends: 10, Faults: networkFaults, Total: true}, nil)
	failures(t, 10, Config{Members: 5, Messages: 30, Sends: 5, Faults: everyFault, Total: true}, nil)
}

// TestRunReportsLiveness checks the liveness bound end to end: on a network
// that loses everything, the members never form a group.
func TestRunReportsLiveness(t *testing.T) {
	res := mustRun(t, Config{Seed: 1, Members: 2, Messages: 3, Faults: Faults{Loss: 1}, Converge: time.Second})
	want := "liveness: the 2 members did not form one view within 1s: m0 in view "
	if len(res.Violations) != 1 || !strings.HasPrefix(res.Violations[0], want) {
		t.Fatalf("violations %q, want one starting %q", res.Violations, want)
	}
	if res.VirtualTime != time.Second || res.Sent != 0 {
		t.Errorf("stopped at %v after %d messages, want at the bound before any", res.VirtualTime, res.Sent)
	}
}

func TestRunLog(t *testing.T) {
	cfg := Config{Seed: 2, Members: 4, Messages: 10, Sends: 2, Faults: everyFault}
	var log bytes.Buffer
	logged, err := RunLog(cfg, &log)
	if err != nil {
		t.Fatal(err)
	}
	if plain := mustRun(t, cfg); !reflect.DeepEqual(logged, plain) {
		t.Fatal("logging changed the run")
	}
	for _, want := range []string{
		"m0 starts as 127.0.0.1:10000#",
		"m0 agrees to view 1@m0 [m0]",
		"m0 installs view 1@m0 [m0] joined [m0]",
		"phase active: formed view ",
		"m1 sends cast 1 #0",
		"delivers cast 1 #0 (cast from m1)",
		"phase quiet: membership faults stop",
		"phase final: converged after ",
		"phase done: drained",
		"membership.views_installed=",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, cfg := range []Config{
		{Members: 0},
		{Members: MaxMembers + 1},
		{Members: 3, Messages: -1},
		{Members: 3, Step: -time.Millisecond},
		{Members: 3, Converge: -time.Millisecond},
	} {
		if _, err := Run(cfg); err == nil {
			t.Errorf("Run(%+v) accepted", cfg)
		}
	}
	if c := (Config{Faults: mustParse("join")}).WithDefaults(); c.Active != DefaultChurnActive {
		t.Errorf("active phase %v with membership faults", c.Active)
	}
}
