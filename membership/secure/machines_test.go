package secure

import (
	"flag"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/membership"
)

// In des mode the cluster is a discrete-event simulation in which every
// member is a machine of its own, so that what it measures is the time
// along the critical path of a protocol, not the sum of every member's
// work (which is what one process running them all on two cores shows):
//
//   - a member handles an input (a datagram, a tick, a call such as
//     Suspect) no earlier than the input's virtual time t, and no earlier
//     than the end of its previous handling;
//   - the handling's measured thread CPU time d is the virtual time it
//     takes: the member is busy until start+d, and what it sends leaves
//     then, to arrive a hop's latency later (c.latency, 0 unless set);
//   - work a handling leaves for after its outputs (Member.Pending: a
//     coordinator processing its own Prepare) is a handling of its own,
//     starting when that one ends, before any other input;
//   - the members tick every millisecond of virtual time, as in the
//     stepped mode, each when it is free; after each input or tick the
//     member flushes its stack, as the real driver does.
//
// Datagrams cross the cluster's transport.Network, so that crashes
// (Detach) and onSend act as in the stepped mode.

// hopLatency is the one-way delay of every datagram in the des-mode
// benchmarks: go test -bench ... -args -hop=100us.
var hopLatency = flag.Duration("hop", 0, "one-way network latency per hop in the discrete-event benchmarks")

// outgoing is a datagram a member sent during a handling under way.
type outgoing struct {
	from int
	to   netip.AddrPort
	data []byte
}

// handle runs f as member i's handling of an input that arrives at t, and
// returns when the handling started and ended in virtual time. During f,
// c.now is the start; the datagrams f leaves in member i's Ready are sent
// at the end.
func (c *cluster) handle(i int, t time.Duration, f func()) (start, end time.Duration) {
	frontier := c.now
	start = max(t, c.busy[i])
	c.now = start
	cpu := benchutil.ThreadCPU()
	f()
	c.drain(i)
	d := benchutil.ThreadCPU() - cpu
	c.cpu[i] += d
	end = start + d
	c.busy[i] = end
	c.lastEnd = end
	c.now = end
	for _, o := range c.outbox {
		if !c.crashed[o.from] {
			c.send(o.from, o.to, o.data)
		}
	}
	clear(c.outbox)
	c.outbox = c.outbox[:0]
	c.now = frontier
	return start, end
}

// call runs f as an input of member i now (a call of the application's,
// or of the failure detector's, such as Suspect or Rekey), and returns
// when its handling started.
func (c *cluster) call(i int, f func()) time.Duration {
	if !c.des {
		f()
		c.drain(i)
		return c.now
	}
	start, end := c.handle(i, c.now, func() {
		f()
		c.members[i].Flush()
	})
	if c.trace != nil {
		c.trace(i, -1, "call", start, start, end)
	}
	c.carryOn(i)
	return start
}

// carryOn gives member i the work its last handling left for after its
// outputs (membership.Member.Pending), as a handling of its own that
// starts when that one ends, its outputs gone, before any other input.
// It reports when the last of them ended, if there was one.
func (c *cluster) carryOn(i int) (end time.Duration, ok bool) {
	for m := c.members[i]; !c.crashed[i] && m.Pending(); ok = true {
		at := c.busy[i]
		var start time.Duration
		start, end = c.handle(i, at, func() {
			m.Continue()
			m.Flush()
		})
		if c.trace != nil {
			c.trace(i, -1, "continue", at, start, end)
		}
	}
	return end, ok
}

// runEvents handles the datagrams and ticks due until the virtual time
// until, or until cond (if not nil) holds after a handling: it then
// reports true, with c.doneAt the end of that handling. Datagrams due at
// the same time as a tick come first, as in the stepped mode; what is
// left of a batch when cond comes to hold is handled on the next call.
func (c *cluster) runEvents(until time.Duration, cond func() bool) bool {
	if c.nextTick <= c.now {
		c.nextTick = c.now.Truncate(time.Millisecond) + time.Millisecond
	}
	for {
		var end time.Duration
		switch {
		case c.dueHead < len(c.due):
			dl := c.due[c.dueHead]
			c.dueHead++
			i := c.index(dl.To)
			if i < 0 || i >= len(c.members) || c.crashed[i] {
				continue
			}
			var start time.Duration
			start, end = c.handle(i, dl.At, func() {
				c.members[i].Receive(dl.From, dl.Data)
				c.members[i].Flush()
			})
			if c.trace != nil {
				name, _ := membership.ControlType(dl.Data, 42)
				c.trace(i, c.index(dl.From), name, dl.At, start, end)
			}
			if e, ok := c.carryOn(i); ok {
				end = e
			}
		case c.ticking && c.tickNext < len(c.members):
			i := c.tickNext
			c.tickNext++
			if c.crashed[i] {
				continue
			}
			m := c.members[i]
			var start time.Duration
			start, end = c.handle(i, c.tickAt, func() {
				m.Tick(c.now)
				m.Flush()
			})
			if c.trace != nil {
				c.trace(i, -1, "tick", c.tickAt, start, end)
			}
			if e, ok := c.carryOn(i); ok {
				end = e
			}
		default:
			c.ticking = false
			next, datagram := c.nextTick, false
			if at, ok := c.net.NextDue(); ok && at <= next {
				next, datagram = at, true
			}
			if next > until {
				c.now = until
				return false
			}
			c.now = next
			if datagram {
				c.due, c.dueHead = c.net.Due(next, c.due[:0]), 0
			} else {
				c.ticking, c.tickAt, c.tickNext = true, next, 0
				c.nextTick += time.Millisecond
			}
			continue
		}
		if cond != nil && cond() {
			c.doneAt = end
			return true
		}
	}
}

// TestMachinesTiming: in des mode a member handles an input no earlier
// than it arrives and than the end of its previous handling, and a
// datagram arrives a hop's latency after the end of the handling that
// sent it, through a view change after a crash.
func TestMachinesTiming(t *testing.T) {
	defer benchutil.LockThread()()
	c := newCluster(t)
	c.des = true
	c.latency = 100 * time.Microsecond
	c.form(4)
	c.run(100 * time.Millisecond)
	ends := map[int]map[time.Duration]bool{}
	last := map[int]time.Duration{}
	handled := 0
	// Datagrams sent before the trace began are not checked.
	before := slices.Max(c.busy)
	c.trace = func(to, from int, what string, at, start, end time.Duration) {
		handled++
		if start < at || start < last[to] || end < start {
			t.Fatalf("member %d handled %q arriving at %v from %v to %v, after a handling that ended at %v", to, what, at, start, end, last[to])
		}
		last[to] = end
		if ends[to] == nil {
			ends[to] = map[time.Duration]bool{}
		}
		ends[to][end] = true
		if from >= 0 && at-c.latency > before && !ends[from][at-c.latency] {
			t.Fatalf("a datagram from %d arrived at %v, not a hop after one of its handlings", from, at)
		}
	}
	v := c.members[0].View()
	coord := c.index(v.Members[0].Addr)
	victim := c.index(v.Members[len(v.Members)-1].Addr)
	live := slices.DeleteFunc(seq(0, 4), func(i int) bool { return i == victim })
	c.crash(victim)
	start := c.call(coord, func() { c.members[coord].Suspect(c.members[victim].Self()) })
	c.runUntil(time.Second, "the survivors' view", func() bool { return c.converged(live...) })
	if handled == 0 || c.doneAt <= start || c.doneAt != c.lastEnd {
		t.Fatalf("%d handlings; done at %v, started at %v, last handling ended at %v", handled, c.doneAt, start, c.lastEnd)
	}
}
