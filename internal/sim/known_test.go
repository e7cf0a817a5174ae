package sim

import (
	"strings"
	"testing"
	"time"
)

// The tests here reproduce what the adversary still leaves out (see
// knownBroken and the avoid… switches in adversary.go): each lifts one
// switch and runs seeds that show the failure.

// attackSeeds runs seeds under attack with every fault and fails on the
// first violation that starts with one of prefixes.
func attackSeeds(t *testing.T, seeds []uint64, prefixes ...string) {
	t.Helper()
	attackSeedsWith(t, 40, seeds, prefixes...)
}

// attackSeedsWith is attackSeeds with messages multicasts per member, as
// conclave sim --messages.
func attackSeedsWith(t *testing.T, messages int, seeds []uint64, prefixes ...string) {
	t.Helper()
	for _, seed := range seeds {
		res, err := Run(Config{Seed: seed, Members: 4, Messages: messages, Sends: messages / 4, Attackers: true,
			Faults: Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond, Crash: true, Partition: true, Join: true, Leave: true}})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range res.Violations {
			for _, p := range prefixes {
				if strings.HasPrefix(v, p) {
					t.Fatalf("seed %d: %s", seed, v)
				}
			}
		}
	}
}

func lift(t *testing.T, sw *bool) {
	*sw = false
	t.Cleanup(func() { *sw = true })
}

// TestMergeAtTheLastLogicalTime: a stranger that proved its address asks
// to be merged in as a view at logical time 2^64−1; the coordinator's next
// view id wraps around to 0, and members install views out of order.
func TestMergeAtTheLastLogicalTime(t *testing.T) {
	t.Skip("known: membership adds 1 to the largest logical time it has heard of, which wraps around at 2^64-1")
	lift(t, &avoidLastLTimes)
	lift(t, &avoidSilentJoiners)
	attackSeeds(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, "member", "virtual synchrony")
}

// TestProvenStrangerNamesNoThirdAddress: a stranger that once proved its
// address to a member then probes it naming a coordinator at a third
// address; the member probes that address.
func TestProvenStrangerNamesNoThirdAddress(t *testing.T) {
	t.Skip("known: membership probes a coordinator named by a stranger that once proved its own address")
	lift(t, &avoidNamedCoords)
	lift(t, &avoidSilentJoiners)
	attackSeeds(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, "third address")
}

// TestSilentJoinersDoNotBlockTheGroup: strangers that prove their address
// and ask to be merged in, or claim a larger view that should absorb the
// group's, then answer nothing, keep the group in view changes that each
// wait out a timeout: it never settles.
func TestSilentJoinersDoNotBlockTheGroup(t *testing.T) {
	t.Skip("known: membership starts a view change for every proven merge request or claim, however often the stranger behind it went silent")
	lift(t, &avoidSilentJoiners)
	attackSeeds(t, []uint64{1, 2, 3, 4, 5, 6, 7, 8}, "liveness", "amplification")
}
