package stable_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/stable"
)

// TestStabilityMatchesFullComputation: under random loss, duplication,
// delay and members left out and taken back, each member's stability
// vectors, once the group is quiet, are what the package doc defines from
// the ack vectors it holds (the minimum and the maximum over the members
// not ignored, the maximum bounded by the origin's own count), although
// update recomputes only the senders whose counts changed; and right
// after Ignore, which recomputes them all.
func TestStabilityMatchesFullComputation(t *testing.T) {
	const n = 6
	for seed := range uint64(8) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			nw := lt.NewNet(t, n, stack, compose.Options{})
			nw.Faults = lt.Faults{Rand: rand.New(rand.NewPCG(seed, 8)), Loss: 0.2, Dup: 0.05, MaxDelay: 3}
			ignored := make([][]bool, n)
			for r := range ignored {
				ignored[r] = make([]bool, n)
			}
			// check compares member r's stability with the full
			// computation over the ack vectors it holds.
			check := func(r int, when string) {
				t.Helper()
				l := nw.Members[r].Layer("stable").(*stable.Layer)
				wantLo, wantHi := make([]uint64, n), make([]uint64, n)
				for s := range n {
					own := l.Vector(r)[s]
					lo, hi := own, own
					for j := range n {
						if !ignored[r][j] || j == r {
							lo, hi = min(lo, l.Vector(j)[s]), max(hi, l.Vector(j)[s])
						}
					}
					if !ignored[r][s] || s == r {
						hi = min(hi, l.Vector(s)[s])
					}
					wantLo[s], wantHi[s] = lo, hi
				}
				st := l.Stability()
				if !slices.Equal(st.Stable, wantLo) || !slices.Equal(st.MaxSeen, wantHi) {
					t.Errorf("%s, member %d: stable %v, max seen %v; the ack vectors give %v, %v", when, r, st.Stable, st.MaxSeen, wantLo, wantHi)
				}
			}
			for step := range 300 {
				if rng.IntN(3) == 0 {
					nw.Cast(rng.IntN(n), fmt.Sprint(step))
				}
				if rng.IntN(40) == 0 {
					r, j := rng.IntN(n), rng.IntN(n)
					if r != j {
						ignored[r][j] = !ignored[r][j]
						nw.Members[r].Layer("stable").(*stable.Layer).Ignore(j, ignored[r][j])
						// Ignore recomputes everything at once.
						check(r, fmt.Sprintf("step %d, after Ignore(%d, %v)", step, j, ignored[r][j]))
					}
				}
				nw.Step()
			}
			nw.Faults.Loss, nw.Faults.Dup = 0, 0
			nw.Run(500 * time.Millisecond)
			for r := range n {
				check(r, "quiet")
			}
		})
	}
}
