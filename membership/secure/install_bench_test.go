package secure

import (
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// BenchmarkInstall16 measures what a member that did not commit does when
// it installs a view of 16 members, past the membership protocol's own
// bookkeeping: the participant's Install (the epoch's stack keys), the
// identities of the view's members (Describe) and the view's reliable
// stack built with those keys. Each iteration first (untimed) has member
// 0 commit a new epoch, as a rekey does, and member 1 process it and
// check its tree, as Process does.
func BenchmarkInstall16(b *testing.B) {
	c := newCluster(b)
	c.form(16)
	committer, err := c.parts[0].cur.group.Clone()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(committer.Destroy)
	p := c.parts[1].Participant
	v := c.members[1].View()
	rank := v.Rank(c.members[1].Self())
	rnd := rand.NewChaCha8([32]byte{'i', 'n', 's', 't', 'a', 'l', 'l'})
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		res, err := committer.Commit(nil, nil, rnd)
		if err != nil {
			b.Fatal(err)
		}
		g, err := p.cur.group.Clone()
		if err != nil {
			b.Fatal(err)
		}
		if err := g.Process(res.Commit); err != nil {
			b.Fatal(err)
		}
		st := &epochState{view: v, group: g, leaves: p.cur.leaves}
		if err := p.checkTree(st, p.cur); err != nil {
			b.Fatal(err)
		}
		p.pending[v.ID] = &pending{st: st}
		b.StartTimer()

		keys, err := p.Install(v)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, ok := p.Describe(v); !ok {
			b.Fatal("no identities for the view installed")
		}
		s, err := compose.Build(layers.Config{View: layers.View{Group: 42, ID: v.ID.Wire(), Rank: rank, N: len(v.Members)}, Keys: keys}, compose.Reliable, compose.Options{})
		if err != nil {
			b.Fatal(err)
		}

		b.StopTimer()
		s.EndView()
		b.StartTimer()
	}
}
