package membership

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// cluster drives members over the in-memory network with a virtual clock.
type cluster struct {
	t       testing.TB
	net     *transport.Network
	members []*Member
	crashed []bool
	events  [][]Event
	now     time.Duration
	timing  Timing
	due     []transport.Delivery
	// sent records every datagram the members sent, when set.
	sent *[]sentPacket
	// configure, if set, adjusts each new member's configuration.
	configure func(i int, cfg *Config)
	// drop, if set, loses the datagrams sent for which it holds.
	drop func(from, to netip.AddrPort, data []byte) bool
	// hold is a deadline tests' drop functions may use.
	hold time.Duration
}

var testTiming = Timing{
	Suspect: 50 * time.Millisecond,
	Retry:   5 * time.Millisecond,
	Flush:   80 * time.Millisecond,
	Probe:   20 * time.Millisecond,
	Merge:   200 * time.Millisecond,
	Stuck:   500 * time.Millisecond,
}

func newCluster(t testing.TB, n int, faults transport.Faults) *cluster {
	c := &cluster{t: t, net: transport.NewNetwork(1, faults), timing: testTiming}
	for range n {
		c.add()
	}
	return c
}

type sentPacket struct {
	from, to netip.AddrPort
	size     int
	data     []byte
}

// add starts a new member that knows every earlier member's address.
func (c *cluster) add() *Member {
	i := len(c.members)
	var seeds []netip.AddrPort
	for j := range i {
		seeds = append(seeds, transport.Addr(j))
	}
	cfg := Config{
		Self:   Endpoint{Addr: transport.Addr(i), Inc: uint32(i + 1)},
		Group:  42,
		Seeds:  seeds,
		Seed:   uint64(i),
		Timing: c.timing,
	}
	if c.configure != nil {
		c.configure(i, &cfg)
	}
	m, err := New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.members = append(c.members, m)
	c.crashed = append(c.crashed, false)
	c.events = append(c.events, nil)
	c.drain(i)
	return m
}

func (c *cluster) drain(i int) {
	m := c.members[i]
	if err := m.roleError(); err != nil {
		c.t.Fatalf("member %d: %v", i, err)
	}
	rd := m.Ready()
	for _, p := range rd.Packets {
		if c.drop != nil && c.drop(m.self.Addr, p.Addr, p.Data) {
			continue
		}
		c.net.Send(c.now, m.self.Addr, p.Addr, p.Data)
		if c.sent != nil {
			*c.sent = append(*c.sent, sentPacket{from: m.self.Addr, to: p.Addr, size: len(p.Data), data: slices.Clone(p.Data)})
		}
	}
	for _, ev := range rd.Events {
		if ev.Kind == Message {
			ev.Data = append([]byte(nil), ev.Data...)
		}
		c.events[i] = append(c.events[i], ev)
	}
	m.Advance()
	if m.Pending() {
		// The member's own work left for after its outputs: they have
		// left, and nothing else comes in between.
		m.Continue()
		c.drain(i)
	}
}

func (c *cluster) index(a netip.AddrPort) int {
	return int(a.Port()) - 10000
}

// run advances the clock by d in steps of 1ms.
func (c *cluster) run(d time.Duration) {
	for end := c.now + d; c.now < end; {
		c.now += time.Millisecond
		c.due = c.net.Due(c.now, c.due[:0])
		for _, dl := range c.due {
			i := c.index(dl.To)
			if i >= 0 && i < len(c.members) && !c.crashed[i] {
				c.members[i].Receive(dl.From, dl.Data)
				c.drain(i)
			}
		}
		for i, m := range c.members {
			if c.crashed[i] {
				continue
			}
			m.Tick(c.now)
			m.Flush()
			c.drain(i)
		}
	}
}

// runUntil runs until cond holds, failing after limit.
func (c *cluster) runUntil(limit time.Duration, what string, cond func() bool) {
	c.t.Helper()
	for end := c.now + limit; !cond(); {
		if c.now >= end {
			c.t.Fatalf("after %v: %s did not happen; views: %s", limit, what, c.describe())
		}
		c.run(time.Millisecond)
	}
}

func (c *cluster) describe() string {
	s := ""
	for i, m := range c.members {
		state := "up"
		if c.crashed[i] {
			state = "crashed"
		} else if m.role == roleLeft {
			state = "left"
		}
		s += fmt.Sprintf("\n  %d (%s): %v", i, state, m.view)
	}
	return s
}

// converged reports whether the live members listed share one view of
// exactly them.
func (c *cluster) converged(idx ...int) bool {
	first := c.members[idx[0]].view
	if len(first.Members) != len(idx) {
		return false
	}
	for _, i := range idx {
		v := c.members[i].view
		if v.ID != first.ID || c.members[i].blocked {
			return false
		}
		if !first.Has(c.members[i].self) {
			return false
		}
	}
	return true
}

func (c *cluster) crash(i int) {
	c.crashed[i] = true
	c.net.Detach(c.members[i].self.Addr)
}

func all(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

func (c *cluster) memberFor(e Endpoint) *Member {
	for _, m := range c.members {
		if m.self == e {
			return m
		}
	}
	c.t.Fatalf("no member %v", e)
	return nil
}
