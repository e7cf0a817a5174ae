package secure

import (
	"net/netip"
	"runtime"
	"runtime/debug"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/membership"
)

// The cost of the secure participant's view changes, with every member a
// machine of its own (des mode, machines_test.go): the time along the
// critical path, from the coordinator's suspicion (or the rekey request,
// or the joiner's first handshake message) to the view installed at every
// member, as the p50 and p99 over the iterations, each member's handlings
// taking the thread CPU time they measure, and every datagram the -hop
// latency (0 unless given, reported as hop-us); and the CPU time per
// member (everything each member did in that span: membership, stack and
// participant, as the thread's CPU time, so that other processes on the
// machine do not count).

// crit collects the critical-path times of a benchmark's iterations.
type crit struct{ h benchutil.Histogram }

func (k *crit) record(d time.Duration) { k.h.Record(int64(d)) }

// report reports the p50 and p99 of the times recorded, and the hop
// latency they were measured with.
func (k *crit) report(b *testing.B, name string) {
	b.ReportMetric(k.h.Quantile(0.5)/1e6, name+"-ms-p50")
	b.ReportMetric(k.h.Quantile(0.99)/1e6, name+"-ms-p99")
	b.ReportMetric(float64(hopLatency.Microseconds()), "hop-us")
}

// newMachines returns a cluster in des mode with the benchmarks' hop
// latency. It runs with one P: keying spreads a commit's path encryptions
// over GOMAXPROCS goroutines, whose CPU time the handling thread's clock
// would not see, so that a handling would seem to take less than its
// work; with one P they run on the handling's own thread, and a member
// is charged for all of it (as a machine with one core).
func newMachines(b *testing.B) *cluster {
	procs := runtime.GOMAXPROCS(1)
	b.Cleanup(func() { runtime.GOMAXPROCS(procs) })
	c := newCluster(b)
	c.des = true
	c.latency = *hopLatency
	return c
}

// BenchmarkViewChangeAfterCrash measures a view change after a member
// crashes: suspicion, flush, commit, confirmation, install.
func BenchmarkViewChangeAfterCrash16(b *testing.B) { benchCrash(b, 16) }

// BenchmarkViewChangeAfterCrash64 is the same at 64 members.
func BenchmarkViewChangeAfterCrash64(b *testing.B) { benchCrash(b, 64) }

// benchCrash forms a group of n once and brings it to steady state (every
// member commits once, as the rekey timer has them do, so that the tree's
// parents hold no unmerged leaves of the joins that formed it); each
// iteration lets it rest, crashes a member, measures the view change that
// removes it, and (untimed) has a new process join in its place.
func benchCrash(b *testing.B, n int) {
	defer benchutil.LockThread()()
	c := newMachines(b)
	c.form(n)
	for range n {
		rekey(b, c)
	}
	live := seq(0, n)
	var path crit
	var cpu, cpuMax time.Duration
	var alloc uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c.run(rest)
		v := c.members[live[0]].View()
		coord := c.index(v.Members[0].Addr)
		victim := c.index(v.Members[len(v.Members)-1].Addr)
		c.crash(victim)
		live = slices.DeleteFunc(live, func(i int) bool { return i == victim })
		clear(c.cpu)
		g := pauseGC()
		b.StartTimer()
		start := c.call(coord, func() { c.members[coord].Suspect(c.members[victim].Self()) })
		c.runUntil(5*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
		b.StopTimer()
		alloc += g.resume()
		path.record(c.doneAt - start)
		cpu += sum(c.cpu)
		cpuMax += slices.Max(c.cpu)
		c.sameEpoch(live...)
		live = append(live, c.add(true))
		c.runUntil(10*time.Second, "a replacement", func() bool { return c.converged(live...) })
	}
	f := float64(b.N)
	path.report(b, "critical")
	b.ReportMetric(float64(cpu.Microseconds())/1000/f/float64(n-1), "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/f, "cpu-ms/busiest")
	b.ReportMetric(float64(alloc)/1024/f/float64(n-1), "alloc-KiB/member")
}

// BenchmarkRekey16 measures a rekey round with the same 16 members after
// a rest, and the HPKE encryptions of its commit once committers have
// rotated (steady state).
func BenchmarkRekey16(b *testing.B) {
	defer benchutil.LockThread()()
	c := newMachines(b)
	c.form(16)
	for range 16 {
		// Every member commits once: every path is refreshed.
		rekey(b, c)
	}
	var path crit
	var cpu, cpuMax time.Duration
	seals, commits := 0, 0
	var alloc uint64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		c.run(rest)
		clear(c.cpu)
		g := pauseGC()
		b.StartTimer()
		d := rekey(b, c)
		b.StopTimer()
		alloc += g.resume()
		path.record(d)
		cpu += sum(c.cpu)
		cpuMax += slices.Max(c.cpu)
		for _, p := range c.parts {
			if p.lastCommit == c.members[0].View().ID {
				seals += p.seals
				commits++
			}
		}
	}
	n := float64(b.N)
	path.report(b, "critical")
	b.ReportMetric(float64(cpu.Microseconds())/1000/n/16, "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/n, "cpu-ms/busiest")
	b.ReportMetric(float64(alloc)/1024/n/16, "alloc-KiB/member")
	if commits > 0 {
		b.ReportMetric(float64(seals)/float64(commits), "encryptions/commit")
	}
}

// rekey asks the coordinator for a rekey round and runs until every
// member installed it; it returns the time that took.
func rekey(b *testing.B, c *cluster) time.Duration {
	v := c.members[0].View()
	coord := c.index(v.Members[0].Addr)
	start := c.call(coord, c.members[coord].Rekey)
	c.runUntil(5*time.Second, "a rekey", func() bool {
		return c.converged(seq(0, len(c.members))...) && c.members[0].ViewID() != v.ID
	})
	return c.doneAt - start
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// BenchmarkJoin16 measures a join to 16 members in steady state, from the
// joiner's first handshake message to its view installed at the joiner
// (joiner-ms) and at every member (critical-ms): every member has
// committed once since the group formed (as the rekey timer has them do),
// so that the ratchet tree's parents hold no unmerged leaves, and the
// group rested for a moment before the join.
func BenchmarkJoin16(b *testing.B) { benchJoin(b, true) }

// BenchmarkJoin16Formed is the same right after the group formed by 16
// joins in a row: the tree's parents list the leaves added since their
// last refresh, so that the commit encrypts to many more nodes, and the
// pairwise keys of the new members are not derived yet.
func BenchmarkJoin16Formed(b *testing.B) { benchJoin(b, false) }

func benchJoin(b *testing.B, steady bool) {
	defer benchutil.LockThread()()
	var path, joiner crit
	var cpu, cpuMax time.Duration
	var alloc uint64
	for range b.N {
		b.StopTimer()
		c := newMachines(b)
		c.form(16)
		if steady {
			for range 16 {
				rekey(b, c)
			}
			c.run(rest)
		}
		var first time.Duration = -1
		c.onSend = func(from int, _ netip.AddrPort, data []byte) [][]byte {
			if name, _ := membership.ControlType(data, 42); name == "Handshake" && from == 16 && first < 0 {
				first = c.now
				clear(c.cpu)
			}
			return [][]byte{data}
		}
		g := pauseGC()
		b.StartTimer()
		c.add(true)
		c.runUntil(5*time.Second, "the joiner's view", func() bool {
			m := c.members[16]
			return len(m.View().Members) == 17 && !m.Blocked()
		})
		joined := c.doneAt
		c.runUntil(5*time.Second, "the join", func() bool { return c.converged(seq(0, 17)...) })
		b.StopTimer()
		alloc += g.resume()
		if first < 0 {
			b.Fatal("no handshake")
		}
		joiner.record(joined - first)
		path.record(c.doneAt - first)
		cpu += sum(c.cpu)
		cpuMax += slices.Max(c.cpu)
	}
	n := float64(b.N)
	path.report(b, "critical")
	joiner.report(b, "joiner")
	b.ReportMetric(float64(cpu.Microseconds())/1000/n/17, "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/n, "cpu-ms/busiest")
	b.ReportMetric(float64(alloc)/1024/n/17, "alloc-KiB/member")
}

// gcPause is a measured view change's pause of the garbage collector.
// One process runs every member, and a collection marks all their heaps:
// charged to the handling it lands in, it would make one member pay, in
// the middle of a view change, for sixteen members' collections, which
// in a deployment are sixteen processes' own, each of a sixteenth of the
// heap, mostly at rest. So the heap is collected before each measured
// view change (untimed) and the collector paused during it; what the view
// change allocates, and so what it leaves the collector, is reported
// instead (alloc-KiB/member).
type gcPause struct {
	percent int
	before  uint64
}

// pauseGC collects the heap and pauses the collector.
func pauseGC() gcPause {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return gcPause{percent: debug.SetGCPercent(-1), before: ms.TotalAlloc}
}

// resume lets the collector run again and returns the bytes allocated
// while it was paused.
func (g gcPause) resume() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	debug.SetGCPercent(g.percent)
	return ms.TotalAlloc - g.before
}

// rest is how long the benchmarks let a group rest before a measured
// view change: a group's view changes do not come back to back, and a
// member at rest works ahead (membership.Idler).
const rest = 20 * time.Millisecond

// BenchmarkIdle16 measures what authenticating heartbeats and gossip costs
// a group at rest: the CPU time per member over a second of virtual time
// at 16 idle members, secured and plain.
func BenchmarkIdle16(b *testing.B) { benchIdle(b, 16) }

// BenchmarkIdle64 is the same at 64 members.
func BenchmarkIdle64(b *testing.B) { benchIdle(b, 64) }

func benchIdle(b *testing.B, n int) {
	for _, plain := range []bool{false, true} {
		name := "secure"
		if plain {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			defer benchutil.LockThread()()
			c := newMachines(b)
			c.plain = plain
			c.form(n)
			c.run(time.Second) // past the last joins' rounds
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				clear(c.cpu)
				c.run(time.Second)
				cpu += sum(c.cpu)
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N)/float64(n), "cpu-ms/member/s")
		})
	}
}
