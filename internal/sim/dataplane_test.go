package sim

import (
	"strings"
	"testing"
)

// TestDataReadersFail: ex-members keep the keys of their last views and
// joiners the keys of their first, and no data datagram of another view
// opens under them. The same readers given datagrams of their own views
// open them, which shows that they rebuild each datagram as the encrypt
// layer seals it: their failures are the keys'.
func TestDataReadersFail(t *testing.T) {
	for _, kind := range []string{AttackExMember, AttackJoiner} {
		reasons := attackSeeds(t, 3, attackConfig(), kind)
		if reasons["data unreadable"] == 0 {
			t.Errorf("%s: no data datagram tried", kind)
		}
		if reasons["data opened"] != 0 {
			t.Errorf("%s: %d data datagrams opened", kind, reasons["data opened"])
		}
	}
	own := attackConfig()
	own.readOwnViews, own.attackOnly = true, AttackJoiner
	violated(t, 5, own, "opened a data datagram")
}

// TestDataInjectionsDropped: recorded data datagrams sent again, as
// recorded or altered, from their senders' addresses, are all dropped or
// taken as the first copy of one that was lost; without encrypt an
// altered one is taken, and the run fails.
func TestDataInjectionsDropped(t *testing.T) {
	forged := attackConfig()
	forged.attackOnly = AttackDataForger
	reasons := attackSeeds(t, 3, forged, AttackDataForger)
	onlyDrops(t, AttackDataForger, reasons)
	if reasons["encrypt.drop.forged"] == 0 {
		t.Errorf("no altered datagram dropped as forged: %v", reasons)
	}
	replayed := attackConfig()
	replayed.attackOnly = AttackDataReplay
	reasons = attackSeeds(t, 3, replayed, AttackDataReplay)
	if reasons["encrypt.drop.replay"] == 0 {
		t.Errorf("no replay dropped as one: %v", reasons)
	}
	for reason := range reasons {
		if !strings.Contains(reason, "drop.") && reason != "handled" {
			t.Errorf("replay ended %q", reason)
		}
	}
	plain := attackConfig()
	plain.plainData, plain.attackOnly = true, AttackDataForger
	violated(t, 5, plain, "took an altered data datagram")
}

// TestNonceReuseFound: no run seals a key and nonce twice; taking every
// member for the same sender, as a group sealing under one key would,
// the check finds them.
func TestNonceReuseFound(t *testing.T) {
	cfg := Config{Members: 3, Messages: 20, Sends: 5, Faults: networkFaults, Secure: true}
	failures(t, 2, cfg, func(*Result) {})
	cfg.sharedSenderKey = true
	violated(t, 2, cfg, "a key and nonce used twice")
}

// TestCheckerSealed: the second seal of one (epoch, leaf, generation,
// counter) is a violation, whoever seals it; another counter is not.
func TestCheckerSealed(t *testing.T) {
	c := NewChecker(false)
	d := newDataPlane()
	n := sealedNonce{epoch: [32]byte{1}, leaf: 2, gen: 0, counter: 7}
	c.Sealed(d, 0, n)
	n.counter++
	c.Sealed(d, 1, n)
	if len(c.Violations()) != 0 {
		t.Fatalf("violations: %q", c.Violations())
	}
	c.Sealed(d, 1, n)
	if v := c.Violations(); len(v) != 1 || !strings.Contains(v[0], "member 1 sealed generation 0 counter 8") {
		t.Fatalf("violations: %q", v)
	}
}

// TestSenderAuthRuns: the secured group with sign in its stacks passes
// under every fault and every attacker.
func TestSenderAuthRuns(t *testing.T) {
	cfg := attackConfig()
	cfg.SenderAuth = true
	failures(t, 2, cfg, func(*Result) {})
	if err := (Config{Members: 3, SenderAuth: true}).Validate(); err == nil {
		t.Error("sender authentication without the secure participant validated")
	}
}

// TestInsidersReadNoSend: insiders open datagrams of their own views that
// one member sent another and find no Send of the workload in them:
// private sealed each for its recipient. Without private they read them,
// and the run fails.
func TestInsidersReadNoSend(t *testing.T) {
	cfg := attackConfig()
	cfg.attackOnly = AttackInsider
	reasons := attackSeeds(t, 3, cfg, AttackInsider)
	if reasons["send unreadable"] == 0 || reasons["send read"] != 0 {
		t.Errorf("insiders' reading of Sends: %v", reasons)
	}
	cfg.plainSends = true
	violated(t, 5, cfg, "read a Send")
}

// TestSenderAuthSendersDeliverTheirOwnBatches: with sender authentication,
// the view change's Block makes sign send its open batch, which its sender
// delivers to itself within that call; the member must collect that
// delivery before the stack advances. These seeds once had a member never
// deliver its own last casts of a view that every other member delivered.
func TestSenderAuthSendersDeliverTheirOwnBatches(t *testing.T) {
	if testing.Short() {
		t.Skip("three seeds of every fault with sender authentication; run without -short")
	}
	cfg := Config{Members: 4, Messages: 100, Faults: everyFault, Secure: true, SenderAuth: true}
	for _, seed := range []uint64{17, 19, 25} {
		cfg.Seed = seed
		if res := mustRun(t, cfg); !res.OK() {
			t.Errorf("seed %d (replay: Run(%+v)):\n  %s", seed, res.Config, strings.Join(res.Violations, "\n  "))
		}
	}
}
