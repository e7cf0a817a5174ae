package secure

import (
	"github.com/conclave-go/conclave/internal/benchutil"
	"net/netip"

	"github.com/conclave-go/conclave/membership"
	"slices"
	"testing"
	"time"
)

// The cost of the secure participant's view changes, in virtual time (from
// the coordinator's suspicion, or the rekey request, to the view installed
// at every member) and in CPU time per member (everything each member did
// in that span: membership, stack and participant, measured as the thread's
// CPU time, so that other processes on the machine do not count), at 16
// members.

// BenchmarkViewChangeAfterCrash measures a view change after a member
// crashes: suspicion, flush, commit, confirmation, install.
func BenchmarkViewChangeAfterCrash16(b *testing.B) { benchCrash(b, 16) }

// BenchmarkViewChangeAfterCrash64 is the same at 64 members.
func BenchmarkViewChangeAfterCrash64(b *testing.B) { benchCrash(b, 64) }

// benchCrash forms a group of n once; each iteration crashes a member,
// measures the view change that removes it, and (untimed) has a new
// process join in its place.
func benchCrash(b *testing.B, n int) {
	defer benchutil.LockThread()()
	c := newCluster(b)
	c.form(n)
	live := seq(0, n)
	var virt, cpu, cpuMax time.Duration
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		v := c.members[live[0]].View()
		coord := c.index(v.Members[0].Addr)
		victim := c.index(v.Members[len(v.Members)-1].Addr)
		c.crash(victim)
		live = slices.DeleteFunc(live, func(i int) bool { return i == victim })
		clear(c.cpu)
		start := c.now
		b.StartTimer()
		c.members[coord].Suspect(c.members[victim].Self())
		c.drain(coord)
		c.runUntil(5*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
		b.StopTimer()
		virt += c.now - start
		cpu += sum(c.cpu)
		cpuMax += slices.Max(c.cpu)
		c.sameEpoch(live...)
		live = append(live, c.add(true))
		c.runUntil(10*time.Second, "a replacement", func() bool { return c.converged(live...) })
	}
	f := float64(b.N)
	b.ReportMetric(float64(virt.Microseconds())/1000/f, "virtual-ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/f/float64(n-1), "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/f, "cpu-ms/busiest")
}

// BenchmarkRekey16 measures a rekey round with the same 16 members, and
// the HPKE encryptions of its commit once committers have rotated
// (steady state).
func BenchmarkRekey16(b *testing.B) {
	defer benchutil.LockThread()()
	c := newCluster(b)
	c.form(16)
	for range 16 {
		// Every member commits once: every path is refreshed.
		rekey(b, c)
	}
	var virt, cpu, cpuMax time.Duration
	seals, commits := 0, 0
	b.ResetTimer()
	for range b.N {
		clear(c.cpu)
		start := c.now
		rekey(b, c)
		virt += c.now - start
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
	b.ReportMetric(float64(virt.Microseconds())/1000/n, "virtual-ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/n/16, "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/n, "cpu-ms/busiest")
	if commits > 0 {
		b.ReportMetric(float64(seals)/float64(commits), "encryptions/commit")
	}
}

// rekey asks the coordinator for a rekey round and runs until every
// member installed it.
func rekey(b *testing.B, c *cluster) {
	v := c.members[0].View()
	coord := c.index(v.Members[0].Addr)
	c.members[coord].Rekey()
	c.drain(coord)
	c.runUntil(5*time.Second, "a rekey", func() bool {
		return c.converged(seq(0, len(c.members))...) && c.members[0].View().ID != v.ID
	})
}

func sum(ds []time.Duration) time.Duration {
	var t time.Duration
	for _, d := range ds {
		t += d
	}
	return t
}

// BenchmarkJoin16 measures a join to 16 members, from the joiner's first
// handshake message to its view installed at every member.
func BenchmarkJoin16(b *testing.B) {
	defer benchutil.LockThread()()
	var virt, cpu, cpuMax time.Duration
	for range b.N {
		b.StopTimer()
		c := newCluster(b)
		c.form(16)
		var first time.Duration = -1
		c.onSend = func(from int, _ netip.AddrPort, data []byte) [][]byte {
			if name, _ := membership.ControlType(data, 42); name == "Handshake" && from == 16 && first < 0 {
				first = c.now
				clear(c.cpu)
			}
			return [][]byte{data}
		}
		b.StartTimer()
		c.add(true)
		c.runUntil(5*time.Second, "the join", func() bool { return c.converged(seq(0, 17)...) })
		b.StopTimer()
		if first < 0 {
			b.Fatal("no handshake")
		}
		virt += c.now - first
		cpu += sum(c.cpu)
		cpuMax += slices.Max(c.cpu)
	}
	n := float64(b.N)
	b.ReportMetric(float64(virt.Microseconds())/1000/n, "virtual-ms/op")
	b.ReportMetric(float64(cpu.Microseconds())/1000/n/17, "cpu-ms/member")
	b.ReportMetric(float64(cpuMax.Microseconds())/1000/n, "cpu-ms/busiest")
}

// BenchmarkIdle16 measures what authenticating heartbeats and gossip costs
// a group at rest: the CPU time per member over a second of virtual time
// at 16 idle members, secured and plain.
func BenchmarkIdle16(b *testing.B) {
	for _, plain := range []bool{false, true} {
		name := "secure"
		if plain {
			name = "plain"
		}
		b.Run(name, func(b *testing.B) {
			defer benchutil.LockThread()()
			c := newCluster(b)
			c.plain = plain
			c.form(16)
			c.run(time.Second) // past the last joins' rounds
			var cpu time.Duration
			b.ResetTimer()
			for range b.N {
				clear(c.cpu)
				c.run(time.Second)
				cpu += sum(c.cpu)
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N)/16, "cpu-ms/member/s")
		})
	}
}
