package keying

import (
	"encoding/json"
	"os"
	"testing"
)

// treeMathVector is one case of the MLS interop vectors' tree-math.json.
type treeMathVector struct {
	NLeaves uint32    `json:"n_leaves"`
	NNodes  uint32    `json:"n_nodes"`
	Root    uint32    `json:"root"`
	Left    []*uint32 `json:"left"`
	Right   []*uint32 `json:"right"`
	Parent  []*uint32 `json:"parent"`
	Sibling []*uint32 `json:"sibling"`
}

func loadVectors(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func TestVectorsTreeMath(t *testing.T) {
	var cases []treeMathVector
	loadVectors(t, "tree-math.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		n := c.NLeaves
		if got := nodeWidth(n); got != c.NNodes {
			t.Errorf("n=%d: nodeWidth %d, want %d", n, got, c.NNodes)
		}
		r := root(n)
		if r != c.Root {
			t.Errorf("n=%d: root %d, want %d", n, r, c.Root)
		}
		for i := uint32(0); i < c.NNodes; i++ {
			check := func(what string, want *uint32, ok bool, got func() uint32) {
				if (want == nil) != !ok {
					t.Errorf("n=%d node %d: %s defined=%v, vector %v", n, i, what, ok, want)
					return
				}
				if ok && got() != *want {
					t.Errorf("n=%d node %d: %s %d, want %d", n, i, what, got(), *want)
				}
			}
			check("left", c.Left[i], !isLeaf(i), func() uint32 { return left(i) })
			check("right", c.Right[i], !isLeaf(i), func() uint32 { return right(i) })
			check("parent", c.Parent[i], i != r, func() uint32 { return parent(i) })
			check("sibling", c.Sibling[i], i != r, func() uint32 { return sibling(i) })
		}
	}
	t.Logf("tree-math: %d cases, 0 skipped", len(cases))
}
