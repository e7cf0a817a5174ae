package sim

import (
	"slices"
	"strings"
	"testing"
)

// signConfig is attackConfig with sender authentication, and only the
// insiders that forge and alter multicasts.
func signConfig(kind string) Config {
	cfg := attackConfig()
	cfg.SenderAuth = true
	cfg.attackOnly = kind
	return cfg
}

// TestSignForgeries runs a few seeds of the group with sender
// authentication under insiders that forge and alter other members'
// multicasts: they send many, the sign layer drops every one that reaches
// it, and no forged multicast is delivered.
func TestSignForgeries(t *testing.T) {
	for _, kind := range []string{AttackSignForger, AttackSignAlter} {
		t.Run(kind, func(t *testing.T) {
			sum := make(map[string]int)
			forged, denied := 0, 0
			failures(t, 3, signConfig(kind), func(res *Result) {
				for reason, k := range attempts(res, kind) {
					sum[reason] += k
				}
				forged += res.Forged
				denied += res.Denied
			})
			t.Logf("%s: %v; %d streams denied", kind, sum, denied)
			total := 0
			for reason, k := range sum {
				total += k
				if reason != "held" && reason != "duplicate" && !strings.Contains(reason, "drop.") {
					t.Errorf("%s: %d attempts ended %q", kind, k, reason)
				}
			}
			if total < 20 {
				t.Errorf("%s: %d attempts, want at least 20", kind, total)
			}
			if sum["sign.drop.forged"] == 0 {
				t.Errorf("%s: sign dropped no forgery as forged: %v", kind, sum)
			}
			if forged != 0 {
				t.Errorf("%s: %d forged multicasts delivered", kind, forged)
			}
		})
	}
}

// TestSignForgeriesWithoutSign runs the same insiders with the sign layer
// left out: the members deliver forged and altered multicasts, which the
// Checker reports and counts.
func TestSignForgeriesWithoutSign(t *testing.T) {
	for _, kind := range []string{AttackSignForger, AttackSignAlter} {
		t.Run(kind, func(t *testing.T) {
			cfg := signConfig(kind)
			cfg.noSign = true
			violated(t, 5, cfg, "sender authentication: ")
		})
	}
}

// TestSignForgeriesAreDeterministic: the insiders' forgeries are drawn
// from the seed like everything else.
func TestSignForgeriesAreDeterministic(t *testing.T) {
	cfg := signConfig("")
	cfg.Seed = 5
	a, b := mustRun(t, cfg), mustRun(t, cfg)
	if len(attempts(&a, AttackSignForger))+len(attempts(&a, AttackSignAlter)) == 0 {
		t.Fatalf("no forgery in %v", a.Attempts)
	}
	if a.Trace != b.Trace || !slices.Equal(a.Attempts, b.Attempts) || a.Denied != b.Denied || a.SignRefused != b.SignRefused {
		t.Fatalf("the same seed gave different runs: trace %x and %x, attempts %v and %v", a.Trace, b.Trace, a.Attempts, b.Attempts)
	}
}
