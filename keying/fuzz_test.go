package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// Fuzz targets for every decoder of this file set: whatever decodes must
// re-encode to exactly its input (one encoding per value, no malleability),
// and nothing may panic or over-allocate. Seeds come from the MLS vectors
// and from a small live group.

func fuzzSuite(f *testing.F) *crypto.Suite {
	s, err := crypto.LookupSuite(0x0001)
	if err != nil {
		f.Fatal(err)
	}
	return s
}

// liveSeeds returns encodings from a three-member group: a commit with an
// add, the welcome, a saved state.
func liveSeeds(f *testing.F) (commit, welcome, state []byte) {
	s := fuzzSuite(f)
	r := detRand(42)
	sig, _ := s.GenerateSigningKey(r)
	kp, kps, err := NewKeyPackage(s, []byte("a"), sig, Lifetime{0, 1}, r)
	if err != nil {
		f.Fatal(err)
	}
	g, err := NewGroup(s, []byte("g"), kp, kps, nil, r)
	if err != nil {
		f.Fatal(err)
	}
	sig2, _ := s.GenerateSigningKey(r)
	kp2, _, err := NewKeyPackage(s, []byte("b"), sig2, Lifetime{0, 1}, r)
	if err != nil {
		f.Fatal(err)
	}
	res, err := g.Commit([]Proposal{{Type: ProposalAdd, KeyPackage: kp2}}, nil, r)
	if err != nil {
		f.Fatal(err)
	}
	commit, _ = res.Commit.Bytes()
	welcome, _ = res.Welcomes[0].Bytes()
	st, err := g.Marshal(nil)
	if err != nil {
		f.Fatal(err)
	}
	return commit, welcome, st
}

func treeKEMSeeds(f *testing.F) (trees, paths [][]byte) {
	var cases []treeKEMVector
	loadVectors(f, "treekem.json", &cases)
	for _, c := range cases[:3] {
		trees = append(trees, c.RatchetTree)
		paths = append(paths, c.UpdatePaths[0].UpdatePath)
	}
	return trees, paths
}

func FuzzParseTree(f *testing.F) {
	s := fuzzSuite(f)
	trees, _ := treeKEMSeeds(f)
	for _, t := range trees {
		f.Add([]byte(t))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		tr, err := ParseTree(s, b)
		if err != nil {
			return
		}
		out, err := tr.Bytes()
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("tree does not re-encode to its input")
		}
		tr.TreeHash()
		_ = tr.Validate([]byte("g"))
	})
}

func FuzzParseLeafNode(f *testing.F) {
	trees, _ := treeKEMSeeds(f)
	s := fuzzSuite(f)
	for _, b := range trees {
		tr, err := ParseTree(s, b)
		if err != nil {
			f.Fatal(err)
		}
		enc, _ := tr.Leaf(0).Bytes()
		f.Add(enc)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := ParseLeafNode(b)
		if err != nil {
			return
		}
		if out, err := l.Bytes(); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("leaf node does not re-encode to its input")
		}
	})
}

func FuzzParseUpdatePath(f *testing.F) {
	_, paths := treeKEMSeeds(f)
	for _, p := range paths {
		f.Add([]byte(p))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		u, err := ParseUpdatePath(b)
		if err != nil {
			return
		}
		if out, err := u.Bytes(); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("update path does not re-encode to its input")
		}
	})
}

func FuzzParseCommit(f *testing.F) {
	c, _, _ := liveSeeds(f)
	f.Add(c)
	f.Fuzz(func(t *testing.T, b []byte) {
		cm, err := ParseCommit(b)
		if err != nil {
			return
		}
		if out, err := cm.Bytes(); err != nil || !bytes.Equal(out, b) {
			t.Fatalf("commit does not re-encode to its input")
		}
	})
}

func FuzzParseWelcome(f *testing.F) {
	_, w, _ := liveSeeds(f)
	f.Add(w)
	var cases []welcomeVector
	loadVectors(f, "welcome.json", &cases)
	f.Add([]byte(cases[0].Welcome[4:]))
	f.Add([]byte(cases[0].KeyPackage[4:]))
	f.Fuzz(func(t *testing.T, b []byte) {
		if wm, err := ParseWelcome(b); err == nil {
			if out, err := wm.Bytes(); err != nil || !bytes.Equal(out, b) {
				t.Fatalf("welcome does not re-encode to its input")
			}
		}
		if kp, err := ParseKeyPackage(b); err == nil {
			if out, err := kp.Bytes(); err != nil || !bytes.Equal(out, b) {
				t.Fatalf("key package does not re-encode to its input")
			}
		}
		if gi, err := ParseGroupInfo(b); err == nil {
			if out, err := gi.Bytes(); err != nil || !bytes.Equal(out, b) {
				t.Fatalf("group info does not re-encode to its input")
			}
		}
	})
}

func FuzzUnmarshalGroup(f *testing.F) {
	_, _, st := liveSeeds(f)
	f.Add([]byte(st))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, st, err := Unmarshal(b)
		if err != nil {
			return
		}
		out, err := g.Marshal(st)
		if err != nil || !bytes.Equal(out, b) {
			t.Fatalf("state does not re-encode to its input")
		}
	})
}
