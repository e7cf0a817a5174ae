package secure

import (
	"testing"
	"unsafe"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// basicLeaf is a leaf node with a basic credential of the identity
// provider/name, enough for the identities of an epoch.
func basicLeaf(t *testing.T, provider, name string) *keying.LeafNode {
	t.Helper()
	b, err := identityBytes(provider, name)
	if err != nil {
		t.Fatal(err)
	}
	return &keying.LeafNode{Credential: keying.Credential{Type: keying.CredentialBasic, Identity: b}}
}

// An epoch takes from the epoch before it the identities of the members
// whose leaf, at the same index, holds the same credential bytes, and
// parses the others: a changed credential at a kept leaf, a new leaf, a
// member whose rank moved, and one whose leaf is no basic credential.
func TestIdentitiesInherited(t *testing.T) {
	old := &epochState{
		leaves: []uint32{0, 1, 2, 3},
		nodes: []*keying.LeafNode{
			basicLeaf(t, "noise", "a"), basicLeaf(t, "noise", "b"),
			basicLeaf(t, "pgp", "c"), basicLeaf(t, "noise", "d"),
		},
	}
	for r := range old.leaves {
		if _, err := old.identity(r); err != nil {
			t.Fatal(err)
		}
	}
	// Leaf 3 moved to rank 0; leaf 0 kept its credential (a copy of its
	// bytes, as a tree decodes it); leaf 1 holds another of the same length;
	// leaf 2 left; leaf 5 is new; leaf 4 is new and without a basic
	// credential.
	same := basicLeaf(t, "noise", "a")
	st := &epochState{
		leaves: []uint32{3, 0, 1, 5, 4},
		nodes: []*keying.LeafNode{
			old.nodes[3], same, basicLeaf(t, "noise", "x"),
			basicLeaf(t, "kerberos", "e@R"), {Credential: keying.Credential{Type: 2}},
		},
	}
	st.inherit(old)
	want := []membership.Identity{
		{Provider: "noise", Name: "d"}, {Provider: "noise", Name: "a"}, {Provider: "noise", Name: "x"},
		{Provider: "kerberos", Name: "e@R"},
	}
	for r, w := range want {
		id, err := st.identity(r)
		if err != nil || id != w {
			t.Fatalf("rank %d: %v (%v), want %v", r, id, err, w)
		}
	}
	if _, err := st.identity(4); err == nil {
		t.Fatal("a leaf without a basic credential has an identity")
	}
	// The kept ones are old's, not parsed again.
	for r, or := range map[int]int{0: 3, 1: 0} {
		if unsafe.StringData(st.ids[r].id.Name) != unsafe.StringData(old.ids[or].id.Name) {
			t.Fatalf("rank %d: identity parsed again, not taken from rank %d of the epoch before", r, or)
		}
	}
	if unsafe.StringData(st.ids[2].id.Name) == unsafe.StringData(old.ids[1].id.Name) {
		t.Fatal("a changed credential kept the identity of the epoch before")
	}
}

// Describing an installed view parses no identity again: one allocation,
// the slice handed out, once the epoch has named its members.
func TestDescribeParsesOnce(t *testing.T) {
	c := newCluster(t)
	c.form(4)
	p, v := c.parts[0], c.members[0].View()
	if _, _, ok := p.Describe(v); !ok {
		t.Fatal("no identities for the view installed")
	}
	if n := testing.AllocsPerRun(10, func() { p.Describe(v) }); n > 1 {
		t.Fatalf("Describe allocates %v times for 4 members", n)
	}
}
