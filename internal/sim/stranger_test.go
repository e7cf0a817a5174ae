package sim

import (
	"strings"
	"testing"
	"time"
)

// TestActiveStrangers runs seeds in which strangers that prove their
// address ask to be merged in at logical times up to 2^64−1, claim larger
// views and name coordinators at third addresses, then answer nothing.
// Each of these once broke the group: view ids wrapped around to 0 and
// members installed views out of order; members probed the third
// addresses; the silent joiners kept the group in view changes that each
// waited out a timeout, so that it never settled.
func TestActiveStrangers(t *testing.T) {
	// Seed 1 showed the first two, seed 8 the third.
	for _, seed := range []uint64{1, 8} {
		res, err := Run(Config{Seed: seed, Members: 4, Messages: 40, Sends: 10, Attackers: true,
			Faults: Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond, Crash: true, Partition: true, Join: true, Leave: true}})
		if err != nil {
			t.Fatal(err)
		}
		if !res.OK() {
			t.Fatalf("seed %d: %s", seed, strings.Join(res.Violations, "\n"))
		}
	}
}
