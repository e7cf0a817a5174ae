package sim

import "testing"

// TestParticipantRuns runs the group with the test participant under
// network faults: every view is installed with a decision the Checker
// checked, the group rekeys during the active phase, and everything still
// reaches everyone. The seeds cover the participant's variants (decided by
// the coordinator or a delegate, handshakes and decisions in fragments or
// not).
func TestParticipantRuns(t *testing.T) {
	rekeys := 0
	failures(t, 8, Config{Members: 3, Messages: 50, Sends: 10, Faults: networkFaults, Participant: true}, func(res *Result) {
		if res.Decided != res.Views {
			t.Errorf("seed %d: %d of %d views checked for their decision", res.Config.Seed, res.Decided, res.Views)
		}
		if want := 3*3*50 + 3*10 + 3*3*FinalCasts + 3*2; res.Delivered != want {
			t.Errorf("seed %d: delivered %d, want %d", res.Config.Seed, res.Delivered, want)
		}
		rekeys += res.Rekeys
	})
	if rekeys == 0 {
		t.Error("no rekey round in any seed")
	}
}

// TestParticipantChurn runs crashes, restarts, joins, leaves and
// partitions with the test participant, under network faults.
func TestParticipantChurn(t *testing.T) {
	failures(t, 8, Config{Members: 5, Messages: 30, Sends: 5, Faults: everyFault, Participant: true}, func(res *Result) {
		if res.Decided != res.Views {
			t.Errorf("seed %d: %d of %d views checked for their decision", res.Config.Seed, res.Decided, res.Views)
		}
	})
}
