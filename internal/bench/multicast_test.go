package bench

import "testing"

// TestOrderHash checks that the order hash tells orders apart.
func TestOrderHash(t *testing.T) {
	h := func(d ...[2]int) uint64 {
		x := uint64(orderSeed)
		for _, p := range d {
			x = orderHash(x, p[0], uint64(p[1]))
		}
		return x
	}
	a, b := h([2]int{0, 0}, [2]int{1, 0}), h([2]int{1, 0}, [2]int{0, 0})
	if a == b {
		t.Errorf("two orders of the same deliveries hash alike")
	}
	if a != h([2]int{0, 0}, [2]int{1, 0}) {
		t.Errorf("the hash is not deterministic")
	}
}
