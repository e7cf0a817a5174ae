package encrypt

import (
	"math/rand/v2"
	"testing"
)

// The bitmap agrees with a model that remembers every number: a number is
// refused if seen, or if ReplayWindow or more behind the newest accepted.
func TestReplayWindowMatchesModel(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	for run := range 50 {
		var r replay
		seen := map[uint64]bool{}
		var top uint64
		any := false
		for range 5000 {
			var seq uint64
			switch rnd.IntN(4) {
			case 0: // far ahead, sliding the whole window
				seq = top + uint64(rnd.IntN(3*ReplayWindow))
			case 1: // around the window's edge
				seq = top - min(top, uint64(ReplayWindow-2+rnd.IntN(4)))
			default: // near the top
				seq = top - min(top, uint64(rnd.IntN(200))) + uint64(rnd.IntN(100))
			}
			want := any && (seen[seq] || (seq <= top && top-seq >= ReplayWindow))
			if got := r.seen(seq); got != want {
				t.Fatalf("run %d: seen(%d) = %v with top %d, want %v", run, seq, got, top, want)
			}
			if !want {
				r.mark(seq)
				seen[seq] = true
				if !any || seq > top {
					top = seq
				}
				any = true
			}
		}
	}
}
