package keying

import "math/bits"

// Tree math on the array representation of a complete binary tree
// (RFC 9420 §4.2, Appendix C). Leaves sit at even node indices, parents at
// odd ones; a node's level is the number of trailing one bits of its index.
// As in RFC 9420 the tree always has a power-of-two number of leaves: it
// grows by doubling and shrinks by truncating a blank right half, so every
// function here is defined by its index alone, plus the leaf count for the
// root.

// maxLeaves bounds the leaf count so that every node index, and twice it,
// fits in a uint32 with room to spare.
const maxLeaves = 1 << 30

// leafNode returns the node index of leaf i.
func leafNode(i uint32) uint32 { return 2 * i }

// nodeLeaf returns the leaf index of leaf node x (x even).
func nodeLeaf(x uint32) uint32 { return x / 2 }

// isLeaf reports whether node x is a leaf.
func isLeaf(x uint32) bool { return x&1 == 0 }

// level returns the level of node x: 0 for leaves, k for a parent whose
// subtree holds 2^k leaves.
func level(x uint32) uint32 { return uint32(bits.TrailingZeros32(^x)) }

// nodeWidth returns the number of nodes of a tree with n leaves.
func nodeWidth(n uint32) uint32 {
	if n == 0 {
		return 0
	}
	return 2*(n-1) + 1
}

// root returns the root of a tree with n leaves (n a power of two).
func root(n uint32) uint32 {
	w := nodeWidth(n)
	return (uint32(1) << (bits.Len32(w) - 1)) - 1
}

// left returns the left child of parent x.
func left(x uint32) uint32 {
	k := level(x)
	return x ^ (1 << (k - 1))
}

// right returns the right child of parent x.
func right(x uint32) uint32 {
	k := level(x)
	return x ^ (3 << (k - 1))
}

// parent returns the parent of non-root node x.
func parent(x uint32) uint32 {
	k := level(x)
	b := (x >> (k + 1)) & 1
	return (x | (1 << k)) ^ (b << (k + 1))
}

// sibling returns the other child of x's parent.
func sibling(x uint32) uint32 {
	p := parent(x)
	if x < p {
		return right(p)
	}
	return left(p)
}

// directPath returns the parents of node x from its parent up to and
// including the root of a tree with n leaves; empty for the root itself.
func directPath(x, n uint32) []uint32 {
	r := root(n)
	if x == r {
		return nil
	}
	d := make([]uint32, 0, level(r)-level(x))
	for x != r {
		x = parent(x)
		d = append(d, x)
	}
	return d
}

// copath returns the siblings of x and of each node on its direct path but
// the root: the roots of the subtrees a path update must reach.
func copath(x, n uint32) []uint32 {
	r := root(n)
	if x == r {
		return nil
	}
	c := make([]uint32, 0, level(r)-level(x))
	for x != r {
		c = append(c, sibling(x))
		x = parent(x)
	}
	return c
}

// isInSubtree reports whether node x lies in the subtree rooted at a.
func isInSubtree(a, x uint32) bool {
	k := level(a)
	lo := a - (uint32(1) << k) + 1
	hi := a + (uint32(1) << k) - 1
	return lo <= x && x <= hi
}

// leafSpan returns the first and one-past-last leaf index under node x.
func leafSpan(x uint32) (uint32, uint32) {
	k := level(x)
	lo := (x + 1 - (uint32(1) << k)) / 2
	return lo, lo + (uint32(1) << k)
}
