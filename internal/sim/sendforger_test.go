package sim

import (
	"strings"
	"testing"
)

// TestSendForgeries runs a few seeds of the secured group under network
// faults with only the insiders that forge Sends between two other
// members in the sender's name: none opens at its recipient, and a
// forgery pt2pt took in the place of a real Send is refused there and the
// real one fetched again, so every run delivers every Send to its
// recipient, in order, once: without membership faults the Checker
// expects each.
func TestSendForgeries(t *testing.T) {
	cfg := attackConfig()
	cfg.Faults, cfg.Sends, cfg.attackOnly = networkFaults, 20, AttackSendForger
	reasons := attackSeeds(t, 4, cfg, AttackSendForger)
	took := 0
	for reason, n := range reasons {
		switch {
		case strings.HasPrefix(reason, "private.drop."):
			took += n // pt2pt delivered it up in the real one's place
		case reason == "duplicate", reason == "held", strings.Contains(reason, "drop."):
		default:
			t.Errorf("%d forgeries ended %q", n, reason)
		}
	}
	if took == 0 {
		t.Errorf("no forgery taken in the place of a real Send: %v", reasons)
	}
}
