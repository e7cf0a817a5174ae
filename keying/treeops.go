package keying

// The three edits proposals make to the public tree (RFC 9420 §12.1.1-3).
// Each keeps the tree's cached hashes for every subtree it does not touch.

// AddLeaf puts l into the leftmost blank leaf, doubling the tree if none is
// blank, and lists that leaf as unmerged at every non-blank parent above
// it, which the new member holds no key for. It returns the leaf index.
func (t *Tree) AddLeaf(l *LeafNode) (uint32, error) {
	i := uint32(0)
	for i < t.leaves && t.Occupied(i) {
		i++
	}
	if i == t.leaves {
		if t.leaves >= maxLeaves {
			return 0, ErrTreeFull
		}
		t.resize(2 * t.leaves)
	}
	for _, x := range directPath(leafNode(i), t.leaves) {
		if t.blank(x) {
			continue
		}
		p := t.parentNode(x)
		q := &ParentNode{EncryptionKey: p.EncryptionKey, ParentHash: p.ParentHash,
			UnmergedLeaves: append(append(make([]uint32, 0, len(p.UnmergedLeaves)+1), p.UnmergedLeaves...), i)}
		if err := t.setParent(x, q); err != nil {
			return 0, err
		}
	}
	if err := t.SetLeaf(i, l); err != nil {
		return 0, err
	}
	return i, nil
}

// UpdateLeaf replaces member i's leaf and blanks its direct path, whose
// keys the old leaf key's holder may have known.
func (t *Tree) UpdateLeaf(i uint32, l *LeafNode) error {
	if !t.Occupied(i) {
		return ErrBlankLeaf
	}
	t.blankPath(i)
	return t.SetLeaf(i, l)
}

// RemoveLeaf blanks member i's leaf and direct path, then truncates the
// tree to the smallest power of two of leaves that holds every remaining
// member (at least one leaf).
func (t *Tree) RemoveLeaf(i uint32) error {
	if !t.Occupied(i) {
		return ErrBlankLeaf
	}
	t.blankPath(i)
	t.setNode(leafNode(i), nil)
	t.truncate()
	return nil
}

func (t *Tree) blankPath(i uint32) {
	for _, x := range directPath(leafNode(i), t.leaves) {
		if !t.blank(x) {
			t.setNode(x, nil)
		}
	}
}

// truncate drops the right half of the tree while it holds no member.
func (t *Tree) truncate() {
	for t.leaves > 1 {
		half := t.leaves / 2
		for i := half; i < t.leaves; i++ {
			if t.Occupied(i) {
				return
			}
		}
		t.resize(half)
	}
}
