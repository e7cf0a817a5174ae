package keying

import "bytes"

// Validate checks a tree received from others, as a joiner must (RFC 9420
// §12.4.3.1, §7.9.2, §7.3): every leaf's signature verifies for groupID and
// its position and names the tree's suite; every non-blank parent's
// unmerged leaves are distinct non-blank leaves of its subtree that every
// non-blank parent between them and it lists too; every non-blank parent
// is parent-hash valid (its hash is carried by exactly one node below it);
// and no two leaves share an encryption or signature key.
func (t *Tree) Validate(groupID []byte) error {
	encKeys := map[string]bool{}
	sigKeys := map[string]bool{}
	for i := uint32(0); i < t.leaves; i++ {
		if !t.Occupied(i) {
			continue
		}
		l := t.leafView(i)
		if err := l.Verify(t.suite, groupID, i); err != nil {
			return err
		}
		if encKeys[string(l.EncryptionKey)] || sigKeys[string(l.SignatureKey)] {
			return ErrDuplicateID
		}
		encKeys[string(l.EncryptionKey)] = true
		sigKeys[string(l.SignatureKey)] = true
	}
	for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
		if t.blank(x) {
			continue
		}
		if encKeys[string(t.encryptionKey(x))] {
			return ErrDuplicateID
		}
		encKeys[string(t.encryptionKey(x))] = true
		if err := t.checkUnmerged(x); err != nil {
			return err
		}
	}
	return t.checkParentHashes()
}

// checkUnmerged checks parent x's unmerged leaves.
func (t *Tree) checkUnmerged(x uint32) error {
	seen := map[uint32]bool{}
	for _, l := range t.unmerged(x) {
		if seen[l] || l >= t.leaves || !isInSubtree(x, leafNode(l)) || !t.Occupied(l) {
			return ErrUnmerged
		}
		seen[l] = true
		// Every non-blank parent between the leaf and x must list it too:
		// it was added after all of them were last set.
		for y := parent(leafNode(l)); y != x; y = parent(y) {
			if !t.blank(y) && !containsUint32(t.unmerged(y), l) {
				return ErrUnmerged
			}
		}
	}
	return nil
}

// checkParentHashes verifies that every non-blank parent P is
// parent-hash valid: exactly one node D in the resolution of one of P's
// children, not among P's unmerged leaves, carries
// ParentHash(P, original tree hash of the other child), and no node is
// the link of two parents.
func (t *Tree) checkParentHashes() error {
	linked := map[uint32]bool{}
	for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
		if t.blank(x) {
			continue
		}
		p := t.parentNode(x)
		found := 0
		for _, side := range [2][2]uint32{{left(x), right(x)}, {right(x), left(x)}} {
			c, s := side[0], side[1]
			want := t.parentHash(p, t.originalTreeHash(s, p.UnmergedLeaves))
			for _, d := range t.Resolution(c) {
				if isLeaf(d) && containsUint32(p.UnmergedLeaves, nodeLeaf(d)) {
					continue
				}
				if bytes.Equal(t.nodeParentHash(d), want) {
					if linked[d] {
						return ErrParentHash
					}
					linked[d] = true
					found++
				}
			}
		}
		if found != 1 {
			return ErrParentHash
		}
	}
	return nil
}

// nodeParentHash returns the parent hash node d carries: a parent's field,
// or a commit leaf's; nil for other leaves.
func (t *Tree) nodeParentHash(d uint32) []byte {
	if isLeaf(d) {
		l := t.leafView(nodeLeaf(d))
		if l.Source != SourceCommit {
			return nil
		}
		return l.ParentHash
	}
	return t.parentNode(d).ParentHash
}
