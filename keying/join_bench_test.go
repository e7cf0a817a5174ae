package keying

import (
	"fmt"
	"testing"
)

// BenchmarkJoin measures a joiner taking its welcome into a group of n-1
// members that each committed once (every parent set, each with a parent
// hash to check): opening the welcome, validating the whole tree it
// carries (every leaf signature, parent hash and unmerged list) and
// deriving the keys of its path. This is on a view change's critical
// path: the joiner's confirmation is waited for.
func BenchmarkJoin(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			s := suite1(b)
			gs := smallGroup(b, s, n-1, 70)
			r := detRand(71)
			for c := range gs {
				commitAndProcess(b, gs, c, nil, r)
			}
			sig, err := s.GenerateSigningKey(r)
			if err != nil {
				b.Fatal(err)
			}
			kp, kps, err := NewKeyPackage(s, []byte("joiner"), sig, Lifetime{0, 1 << 40}, r)
			if err != nil {
				b.Fatal(err)
			}
			res, err := gs[3].Commit([]Proposal{{Type: ProposalAdd, KeyPackage: kp}}, nil, r)
			if err != nil {
				b.Fatal(err)
			}
			wm := res.Welcomes[0]
			var cpu cpuMeter
			b.ReportAllocs()
			b.ResetTimer()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				// Join takes the init key and the leaf key: each run
				// has handles of its own.
				mine := &KeyPackageSecrets{Init: kps.Init.Clone(), Leaf: kps.Leaf.Clone(), Signing: kps.Signing}
				cpu.startTimer(b)
				g, err := Join(s, wm, kp, mine)
				cpu.stopTimer(b)
				if err != nil {
					b.Fatal(err)
				}
				_ = g
			}
			cpu.report(b)
		})
	}
}
