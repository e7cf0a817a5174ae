//go:build unix

package keying

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
)

// Benchmarks of commits on large trees. Building a tree of 100,000 members
// through 100,000 joins would take hours, so benchTree builds the public
// tree directly: every occupied leaf and every parent above an occupied
// leaf gets a public key from a pool of benchPool generated key pairs
// (node x takes pool[x % benchPool]), so the private key of any node is at
// hand for a receiver; all leaves share one signing key. This is the tree
// a group reaches when every member has committed once in turn (all
// parents set, no unmerged leaves). Tree hashes are computed once in the
// setup, as a long-lived member would have them cached.
//
// Besides wall time (ns/op), the commit benchmarks report the process's CPU
// time per operation (cpu-ns/op, from getrusage): on a machine shared with
// other work, wall time measures the queue for a core more than the code.

const benchPool = 64

type benchFixture struct {
	s    *crypto.Suite
	n    uint32
	tree *Tree
	pool []*crypto.KEMPrivateKey
	sig  *crypto.SigningKey
}

func newBenchFixture(tb testing.TB, id crypto.SuiteID, n uint32) *benchFixture {
	s, err := crypto.LookupSuite(id)
	if err != nil {
		tb.Fatal(err)
	}
	f := &benchFixture{s: s, n: n}
	r := detRand(uint64(n))
	for i := 0; i < benchPool; i++ {
		k, err := s.GenerateKeyPair(r)
		if err != nil {
			tb.Fatal(err)
		}
		f.pool = append(f.pool, k)
	}
	if f.sig, err = s.GenerateSigningKey(r); err != nil {
		tb.Fatal(err)
	}
	f.tree = f.buildTree(n)
	return f
}

// buildTree makes the public tree of n members directly.
func (f *benchFixture) buildTree(n uint32) *Tree {
	t := &Tree{suite: f.s}
	t.resize(uint32(1) << bits.Len32(n-1))
	sigPub := f.sig.PublicKey()
	fakeSig := make([]byte, 64)
	for i := uint32(0); i < n; i++ {
		x := leafNode(i)
		l := &LeafNode{
			EncryptionKey: f.pool[x%benchPool].PublicKey().Bytes(),
			SignatureKey:  sigPub,
			Credential:    Credential{Type: CredentialBasic, Identity: []byte(fmt.Sprintf("member-%d", i))},
			Capabilities:  DefaultCapabilities(f.s.ID()),
			Source:        SourceCommit,
			ParentHash:    make([]byte, f.s.HashSize()),
			Extensions:    []Extension{},
			Signature:     fakeSig,
		}
		enc, err := l.Bytes()
		if err != nil {
			panic(err)
		}
		t.nodes[x] = enc
	}
	ph := make([]byte, f.s.HashSize())
	for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
		if lo, _ := leafSpan(x); lo >= n {
			continue
		}
		p := &ParentNode{EncryptionKey: f.pool[x%benchPool].PublicKey().Bytes(), ParentHash: ph, UnmergedLeaves: []uint32{}}
		enc, err := p.Bytes()
		if err != nil {
			panic(err)
		}
		t.nodes[x] = enc
	}
	t.TreeHash()
	return t
}

// group makes member i's state over a copy of tree t: its leaf key and
// every parent key on its direct path from the pool.
func (f *benchFixture) group(tb testing.TB, t *Tree, i uint32) *Group {
	s := f.s
	priv := &PrivateKeys{Leaf: i, keys: map[uint32]*crypto.KEMPrivateKey{}}
	for _, x := range append([]uint32{leafNode(i)}, directPath(leafNode(i), t.leaves)...) {
		if !t.blank(x) {
			priv.keys[x] = f.poolKey(tb, x)
		}
	}
	gc := GroupContext{Suite: s.ID(), GroupID: []byte("bench"), Epoch: 7, TreeHash: t.TreeHash(),
		ConfirmedTranscriptHash: make([]byte, s.HashSize()), Extensions: []Extension{}}
	init := make(crypto.Secret, s.HashSize())
	e, err := NewEpoch(s, init, nil, nil, &gc)
	if err != nil {
		tb.Fatal(err)
	}
	return &Group{suite: s, tree: t, priv: priv, sig: f.sig, gc: gc, interim: []byte{},
		epoch: e, refreshed: make([]uint64, t.leaves), pending: map[string]*crypto.KEMPrivateKey{}}
}

// poolKey returns a copy of node x's private key, which its holder may
// destroy without harming the pool.
func (f *benchFixture) poolKey(tb testing.TB, x uint32) *crypto.KEMPrivateKey {
	b, err := f.pool[x%benchPool].Bytes()
	if err != nil {
		tb.Fatal(err)
	}
	k, err := f.s.ParseKEMPrivateKey(b)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

var benchSizes = []uint32{16, 64, 1024, 100000}

// settle collects the garbage of a large fixture's setup (a copy of the
// tree per operation) outside the timer, so that the collector's work on
// it is not charged to the operation: a long-lived member does not copy
// its tree per commit.
func settle(f *benchFixture) {
	if f.n >= 100000 {
		runtime.GC()
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter sums CPU time over the timed parts of a benchmark.
type cpuMeter struct {
	start, total time.Duration
}

func (c *cpuMeter) startTimer(b *testing.B) { b.StartTimer(); c.start = cpuTime() }
func (c *cpuMeter) stopTimer(b *testing.B)  { c.total += cpuTime() - c.start; b.StopTimer() }
func (c *cpuMeter) report(b *testing.B) {
	b.ReportMetric(float64(c.total.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// randomVictim picks a leaf to remove other than the committer and the
// receiver.
func randomVictim(rng *rand.Rand, t *Tree, committer, receiver uint32) uint32 {
	for {
		v := uint32(rng.IntN(int(t.leaves)))
		if v != committer && v != receiver && t.Occupied(v) {
			return v
		}
	}
}

func benchCommitRemove(b *testing.B, f *benchFixture, base *Tree) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := detRand(3)
	seals := 0
	var cpu cpuMeter
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		g := f.group(b, base.Clone(), 0)
		props := []Proposal{{Type: ProposalRemove, Removed: randomVictim(rng, g.tree, 0, f.n-1)}}
		settle(f)
		cpu.startTimer(b)
		res, err := g.Commit(props, nil, r)
		cpu.stopTimer(b)
		if err != nil {
			b.Fatal(err)
		}
		seals += res.Seals
	}
	b.ReportMetric(float64(seals)/float64(b.N), "hpke_seals/op")
	cpu.report(b)
}

func BenchmarkCommitRemove(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			f := newBenchFixture(b, 0x0001, n)
			benchCommitRemove(b, f, f.tree)
		})
	}
	b.Run("n=1024/suite=xwing", func(b *testing.B) {
		f := newBenchFixture(b, 0xFC01, 1024)
		benchCommitRemove(b, f, f.tree)
	})
	for _, n := range []uint32{1024, 100000} {
		b.Run(fmt.Sprintf("n=%d/removed=10%%", n), func(b *testing.B) {
			f := newBenchFixture(b, 0x0001, n)
			benchCommitRemove(b, f, f.withRemovals(b, 10))
		})
	}
	// After the removals, every remaining member commits once in turn (as
	// rotating committers would): the blanks fill again.
	b.Run("n=1024/removed=10%/rotated", func(b *testing.B) {
		f := newBenchFixture(b, 0x0001, 1024)
		t := f.withRemovals(b, 10)
		r := detRand(10)
		for _, i := range t.Members() {
			priv := NewPrivateKeys(i, f.poolKey(b, leafNode(i)))
			gc := &GroupContext{Suite: f.s.ID(), GroupID: []byte("bench"), Extensions: []Extension{}}
			if _, _, err := t.CreatePath(priv, t.Leaf(i), f.sig, gc, nil, r); err != nil {
				b.Fatal(err)
			}
		}
		// Members keep the pool's keys for the nodes the fixture hands
		// them; give every refreshed node a pool key again so that the
		// committer and receivers hold them.
		for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
			if !t.blank(x) {
				p := t.parentNode(x)
				q := &ParentNode{EncryptionKey: f.pool[x%benchPool].PublicKey().Bytes(), ParentHash: p.ParentHash, UnmergedLeaves: p.UnmergedLeaves}
				if err := t.setParent(x, q); err != nil {
					b.Fatal(err)
				}
			}
		}
		for _, i := range t.Members() {
			l := t.Leaf(i)
			l.EncryptionKey = f.pool[leafNode(i)%benchPool].PublicKey().Bytes()
			if err := t.SetLeaf(i, l); err != nil {
				b.Fatal(err)
			}
		}
		benchCommitRemove(b, f, t)
	})
}

// withRemovals returns a copy of the fixture's tree with pct percent of the
// members (not the first or last) removed at random: leaves and their
// direct paths blanked, as remove proposals leave them until the next
// commits refresh paths.
func (f *benchFixture) withRemovals(tb testing.TB, pct int) *Tree {
	t := f.tree.Clone()
	rng := rand.New(rand.NewPCG(5, 6))
	for k := 0; k < int(f.n)*pct/100; k++ {
		if err := t.RemoveLeaf(randomVictim(rng, t, 0, f.n-1)); err != nil {
			tb.Fatal(err)
		}
	}
	t.TreeHash()
	return t
}

// BenchmarkProcessCommit measures a member processing a commit of member
// 0: the last member, which shares only the root with the committer's
// path and so derives one node key, and the committer's sibling
// (receiver=sibling), which derives the key of every node of the path:
// the member that takes longest, whose confirmation a view change waits
// for.
func BenchmarkProcessCommit(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			f := newBenchFixture(b, 0x0001, n)
			benchProcessCommit(b, f, f.tree, n-1)
		})
	}
	for _, n := range []uint32{16, 64} {
		b.Run(fmt.Sprintf("n=%d/receiver=sibling", n), func(b *testing.B) {
			f := newBenchFixture(b, 0x0001, n)
			benchProcessCommit(b, f, f.tree, 1)
		})
	}
	b.Run("n=1024/suite=xwing", func(b *testing.B) {
		f := newBenchFixture(b, 0xFC01, 1024)
		benchProcessCommit(b, f, f.tree, 1023)
	})
}

func benchProcessCommit(b *testing.B, f *benchFixture, base *Tree, receiver uint32) {
	const commits = 8
	rng := rand.New(rand.NewPCG(1, 2))
	r := detRand(4)
	var cs []*Commit
	seals := 0
	for k := 0; k < commits; k++ {
		g := f.group(b, base.Clone(), 0)
		res, err := g.Commit([]Proposal{{Type: ProposalRemove, Removed: randomVictim(rng, g.tree, 0, receiver)}}, nil, r)
		if err != nil {
			b.Fatal(err)
		}
		cs = append(cs, res.Commit)
		seals += res.Seals
	}
	var cpu cpuMeter
	b.ResetTimer()
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		g := f.group(b, base.Clone(), receiver)
		settle(f)
		cpu.startTimer(b)
		err := g.Process(cs[i%commits])
		cpu.stopTimer(b)
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(seals)/commits, "hpke_seals/op")
	cpu.report(b)
	b.ReportMetric(1, "hpke_opens/op")
}

// BenchmarkCommitSteadyState measures the encryptions of one commit in a
// tree of n members after every member committed once in turn (the state a
// rotating committer keeps) and after only one member ever committed (every
// other parent blank). The tree starts with every parent blank, as after a
// group was built by adds alone.
func BenchmarkCommitSteadyState(b *testing.B) {
	for _, n := range []uint32{16, 1024} {
		for _, mode := range []string{"rotating", "single"} {
			b.Run(fmt.Sprintf("n=%d/%s", n, mode), func(b *testing.B) {
				f := newBenchFixture(b, 0x0001, n)
				t := f.tree.Clone()
				for x := uint32(1); x < uint32(len(t.nodes)); x += 2 {
					t.setNode(x, nil)
				}
				r := detRand(9)
				commit := func(i uint32) int {
					priv := NewPrivateKeys(i, f.poolKey(b, leafNode(i)))
					gc := &GroupContext{Suite: f.s.ID(), GroupID: []byte("bench"), Extensions: []Extension{}}
					_, res, err := t.CreatePath(priv, t.Leaf(i), f.sig, gc, nil, r)
					if err != nil {
						b.Fatal(err)
					}
					return res.Seals
				}
				if mode == "rotating" {
					for i := uint32(0); i < n; i++ {
						commit(i)
					}
				} else {
					commit(0)
				}
				seals := 0
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					// The next committer: the oldest path when rotating
					// (member k in turn), member 0 otherwise.
					c := uint32(0)
					if mode == "rotating" {
						c = uint32(i) % n
					}
					seals += commit(c)
				}
				b.ReportMetric(float64(seals)/float64(b.N), "hpke_seals/op")
			})
		}
	}
}

// BenchmarkTreeMemory reports the heap held by the public tree of 100,000
// members per suite.
func BenchmarkTreeMemory(b *testing.B) {
	for _, id := range crypto.Suites() {
		b.Run(fmt.Sprintf("suite=0x%04x", uint16(id)), func(b *testing.B) {
			f := newBenchFixture(b, id, 16)
			var before, after runtime.MemStats
			var t *Tree
			for i := 0; i < b.N; i++ {
				t = nil
				runtime.GC()
				runtime.ReadMemStats(&before)
				t = f.buildTree(100000)
				runtime.GC()
				runtime.ReadMemStats(&after)
			}
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB")
			runtime.KeepAlive(t)
		})
	}
}

// BenchmarkSealReference is one HPKE encryption of a path secret: the unit
// a commit's cost is made of, measured beside it on the same machine.
func BenchmarkSealReference(b *testing.B) {
	for _, id := range []crypto.SuiteID{0x0001, 0xFC01} {
		b.Run(fmt.Sprintf("suite=0x%04x", uint16(id)), func(b *testing.B) {
			f := newBenchFixture(b, id, 2)
			pub := f.pool[0].PublicKey()
			secret := make(crypto.Secret, f.s.HashSize())
			var cpu cpuMeter
			b.ResetTimer()
			b.StopTimer()
			for i := 0; i < b.N; i++ {
				cpu.startTimer(b)
				_, _, err := f.s.EncryptWithLabel(pub, "UpdatePathNode", nil, secret)
				cpu.stopTimer(b)
				if err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

// BenchmarkProcessRotating measures the members processing commits in the
// steady state of a group whose members commit in turn (the rotation the
// group layer keeps), once every member has committed: a receiver decrypts
// with a key an earlier commit gave it and derives the keys of the path
// above. Each op is one commit, processed by every other member; it
// reports the CPU time of a Process on average (cpu-ns/process) and of the
// slowest one of the commit (max-cpu-ns/commit), whose confirmation a view
// change waits for.
func BenchmarkProcessRotating(b *testing.B) {
	for _, n := range []int{16, 64} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			gs := smallGroup(b, suite1(b), n, 60)
			r := detRand(61)
			var sum, maxSum time.Duration
			commit := func(c int) {
				res, err := gs[c].Commit(nil, nil, r)
				if err != nil {
					b.Fatal(err)
				}
				var slowest time.Duration
				for i, g := range gs {
					if i == c {
						continue
					}
					start := cpuTime()
					err := g.Process(res.Commit)
					d := cpuTime() - start
					if err != nil {
						b.Fatal(err)
					}
					sum += d
					slowest = max(slowest, d)
				}
				maxSum += slowest
			}
			for c := range n {
				commit(c)
			}
			sum, maxSum = 0, 0
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				commit(i % n)
			}
			b.StopTimer()
			b.ReportMetric(float64(sum.Nanoseconds())/float64(b.N*(n-1)), "cpu-ns/process")
			b.ReportMetric(float64(maxSum.Nanoseconds())/float64(b.N), "max-cpu-ns/commit")
		})
	}
}
