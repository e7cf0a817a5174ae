package keying

import "testing"

// TestTreeMathPaths checks direct paths, copaths and subtree spans against
// a walk from the root, for every node of trees up to 64 leaves.
func TestTreeMathPaths(t *testing.T) {
	for n := uint32(1); n <= 64; n *= 2 {
		r := root(n)
		for x := uint32(0); x < nodeWidth(n); x++ {
			d := directPath(x, n)
			c := copath(x, n)
			if len(d) != len(c) {
				t.Fatalf("n=%d x=%d: direct path %v, copath %v", n, x, d, c)
			}
			if len(d) != int(level(r)-level(x)) {
				t.Fatalf("n=%d x=%d: direct path length %d", n, x, len(d))
			}
			if len(d) > 0 && d[len(d)-1] != r {
				t.Fatalf("n=%d x=%d: direct path ends at %d, root %d", n, x, d[len(d)-1], r)
			}
			for i, p := range d {
				if !isInSubtree(p, x) || isInSubtree(p, c[i]) != true || isInSubtree(c[i], x) {
					t.Fatalf("n=%d x=%d: subtree relation broken at %d", n, x, p)
				}
			}
			lo, hi := leafSpan(x)
			for l := uint32(0); l < n; l++ {
				if (lo <= l && l < hi) != isInSubtree(x, leafNode(l)) {
					t.Fatalf("n=%d x=%d leaf %d: span [%d,%d) disagrees", n, x, l, lo, hi)
				}
			}
		}
	}
}
