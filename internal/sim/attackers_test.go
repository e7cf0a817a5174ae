package sim

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// attackConfig is a secured group of four under every fault, with the
// attackers, in a short active phase.
func attackConfig() Config {
	return Config{Members: 4, Messages: 20, Sends: 5, Faults: everyFault, Active: 1500 * time.Millisecond, Secure: true, Attackers: true}
}

// attempts sums a run's attempts of kind by reason.
func attempts(res *Result, kind string) map[string]int {
	out := make(map[string]int)
	for _, a := range res.Attempts {
		if a.Kind == kind {
			out[a.Reason] += a.Count
		}
	}
	return out
}

// attackSeeds runs seeds 1 … n of cfg, each of which must pass, and sums
// the attempts of kind by reason.
func attackSeeds(t *testing.T, n uint64, cfg Config, kind string) map[string]int {
	t.Helper()
	sum := make(map[string]int)
	failures(t, n, cfg, func(res *Result) {
		for reason, k := range attempts(res, kind) {
			sum[reason] += k
		}
	})
	t.Logf("%s: %v", kind, sum)
	return sum
}

// violated runs seeds 1 … n of cfg until one reports a violation
// containing want, and fails if none does.
func violated(t *testing.T, n uint64, cfg Config, want string) {
	t.Helper()
	var seen []string
	for seed := uint64(1); seed <= n; seed++ {
		cfg.Seed = seed
		res := mustRun(t, cfg)
		for _, v := range res.Violations {
			if strings.Contains(v, want) {
				return
			}
		}
		seen = append(seen, res.Violations...)
	}
	t.Fatalf("no violation containing %q in %d seeds; saw %q", want, n, seen)
}

// onlyDrops fails unless every reason is a drop or a refusal.
func onlyDrops(t *testing.T, kind string, reasons map[string]int) {
	t.Helper()
	total := 0
	for reason, k := range reasons {
		total += k
		if !strings.Contains(reason, "drop.") && !strings.HasPrefix(reason, "commit refused") && !strings.HasPrefix(reason, "ignored.") && reason != "data unreadable" && reason != "send unreadable" {
			t.Errorf("%s: %d attempts ended %q", kind, k, reason)
		}
	}
	if total == 0 {
		t.Errorf("%s: no attempt", kind)
	}
}

// TestSecureRuns runs the secured group under network faults: every view
// is installed with an epoch the Checker compared at every member, the
// group rekeys, and everything reaches everyone.
func TestSecureRuns(t *testing.T) {
	rekeys := 0
	failures(t, 3, Config{Members: 3, Messages: 30, Sends: 5, Faults: networkFaults, Secure: true}, func(res *Result) {
		if res.Decided != res.Views {
			t.Errorf("seed %d: %d of %d views checked for their epoch", res.Config.Seed, res.Decided, res.Views)
		}
		rekeys += res.Rekeys
	})
	if rekeys == 0 {
		t.Error("no rekey round in any seed")
	}
}

// TestInsiderForgeriesFail: a member's forgeries of another member's
// Suspect or Leave, sealed with its own keys, are all dropped as forged
// by the secure participant's per-member signatures. The test
// participant MACs control messages under one key per view that every
// member holds: there the forgeries are accepted, and the run fails.
func TestInsiderForgeriesFail(t *testing.T) {
	reasons := attackSeeds(t, 3, attackConfig(), AttackInsider)
	onlyDrops(t, AttackInsider, reasons)
	if reasons["drop.forged_control"] == 0 {
		t.Error("no forgery dropped as forged")
	}
	toy := attackConfig()
	toy.Secure, toy.Participant, toy.attackToy, toy.attackOnly = false, true, true, AttackInsider
	violated(t, 5, toy, "insider: member")
}

// TestExMembersFail: processes that left or crashed keep their keys,
// and every commit of a later view they try to process is refused, and
// every control message they seal with their old keys dropped. With the
// test participant, whose parts every holder of the pre-shared key can
// unmask, an ex-member processes later commits and derives their epochs:
// the run fails.
func TestExMembersFail(t *testing.T) {
	reasons := attackSeeds(t, 3, attackConfig(), AttackExMember)
	onlyDrops(t, AttackExMember, reasons)
	refused, dropped := 0, 0
	for reason, k := range reasons {
		if strings.HasPrefix(reason, "commit refused") {
			refused += k
		} else {
			dropped += k
		}
	}
	if refused == 0 || dropped == 0 {
		t.Errorf("%d commits refused, %d control messages dropped: want both", refused, dropped)
	}
	toy := attackConfig()
	toy.Secure, toy.Participant, toy.attackToy, toy.attackOnly = false, true, true, AttackExMember
	violated(t, 5, toy, "derived the epoch of view")
}

// TestOutsidersRefused: the outsider with a key not on the allow list
// completes handshakes and is refused admission, and neither it nor the
// one without a key ever shares a view with the group. With an
// admission check that admits anyone, the outsider joins: the run fails.
func TestOutsidersRefused(t *testing.T) {
	cfg := attackConfig()
	reasons := attackSeeds(t, 3, cfg, AttackOutsider)
	if reasons["admissions_refused"] == 0 {
		t.Error("the outsider was never refused admission")
	}
	if n := len(attackSeeds(t, 1, cfg, AttackKeyless)); n == 0 {
		t.Error("the outsider without a key never tried")
	}
	open := cfg
	open.admitAll = true
	violated(t, 3, open, "outsider: installed")
}

// TestReplaysFail: sealed control messages a member accepted, sent to it
// again later from their sender's address, are all dropped.
func TestReplaysFail(t *testing.T) {
	reasons := attackSeeds(t, 3, attackConfig(), AttackReplay)
	onlyDrops(t, AttackReplay, reasons)
}

// TestSecureRunIsDeterministic: a secured run under attack is a pure
// function of its Config, keys, handshakes, commits and attackers
// included.
func TestSecureRunIsDeterministic(t *testing.T) {
	cfg := attackConfig()
	cfg.Seed = 5
	a, b := mustRun(t, cfg), mustRun(t, cfg)
	if a.Trace != b.Trace || !slices.Equal(a.Attempts, b.Attempts) || a.Views != b.Views {
		t.Fatalf("the same seed gave different runs: trace %x and %x, attempts %v and %v", a.Trace, b.Trace, a.Attempts, b.Attempts)
	}
}
