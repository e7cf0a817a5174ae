package secure

import (
	"cmp"
	"fmt"
	"github.com/conclave-go/conclave/internal/benchutil"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// cluster drives secured members over the in-memory network with a
// virtual clock, one millisecond per step.
type cluster struct {
	t       testing.TB
	net     *transport.Network
	members []*membership.Member
	parts   []*recorder
	crashed []bool
	events  [][]membership.Event
	now     time.Duration
	due     []transport.Delivery
	// allowed is the admission list every member checks (by name);
	// deny[i] lists names member i refuses all the same.
	allowed map[string]bool
	deny    map[int]map[string]bool
	// names[i], if set, is member i's group name ("test" otherwise).
	names map[int]string
	// suite, if set, is every member's cipher suite (the default
	// otherwise).
	suite crypto.SuiteID
	// cpu adds up the CPU time each member spends in its calls (this
	// thread's, see cpuClock).
	cpu []time.Duration
	// onSend, if set, sees each datagram a member sends; it returns the
	// datagrams to send instead (nil: none).
	onSend func(from int, to netip.AddrPort, data []byte) [][]byte
	// timing of every member.
	timing membership.Timing
	// plain, if set, starts members without a participant (the plain
	// stack), for comparisons.
	plain bool
	// des, if set before the first member starts, runs the cluster as a
	// discrete-event simulation where every member is a machine of its
	// own (events.go): what a member sends leaves when its handling
	// ends, and a busy member takes its next input when it is done.
	des bool
	// latency is the one-way network delay of every datagram in des
	// mode (0 unless set).
	latency time.Duration
	// busy[i] is when member i finishes what it is handling (des mode).
	busy []time.Duration
	// outbox holds the datagrams of the handling under way (des mode),
	// sent once its CPU time is known.
	outbox []outgoing
	// nextTick is when the members' next tick is due; while ticking,
	// tickAt is the tick under way and tickNext the next member to take
	// it; dueHead is the next datagram of due to handle (des mode).
	nextTick, tickAt  time.Duration
	ticking           bool
	tickNext, dueHead int
	// doneAt is when the condition runUntil waited for came to hold:
	// the end of the handling that made it true, in des mode; lastEnd
	// is the end of the last handling.
	doneAt, lastEnd time.Duration
	// trace, if set, sees every handling of a datagram (named by its
	// control type, "" for the stack's), a tick, a call or the work an
	// input left for after its outputs (from -1: "tick", "call",
	// "continue") in des mode.
	trace func(to, from int, what string, at, start, end time.Duration)
}

// recorder is the participant of a test member: the secure participant,
// recording the decisions it processed.
type recorder struct {
	*Participant
	commons map[membership.ViewID][]byte
	views   map[membership.ViewID]membership.View
}

func (r *recorder) Process(next membership.View, common, own []byte) ([]byte, error) {
	r.commons[next.ID] = slices.Clone(common)
	r.views[next.ID] = next.Clone()
	return r.Participant.Process(next, common, own)
}

var testTiming = membership.Timing{
	Suspect: 50 * time.Millisecond,
	Retry:   5 * time.Millisecond,
	Flush:   80 * time.Millisecond,
	Probe:   20 * time.Millisecond,
	Merge:   200 * time.Millisecond,
	Stuck:   500 * time.Millisecond,
}

func newCluster(t testing.TB) *cluster {
	return &cluster{t: t, net: transport.NewNetwork(1, transport.Faults{}), allowed: map[string]bool{}, deny: map[int]map[string]bool{}, names: map[int]string{}, timing: testTiming}
}

// add starts a member that knows every earlier member's address; allowed
// says whether the others admit its identity.
func (c *cluster) add(allowed bool) int {
	i := len(c.members)
	rnd := rand.NewChaCha8([32]byte{byte(i), 'c', 'o', 'n', 'c', 'l', 'a', 'v', 'e'})
	key, err := noise.GenerateKey(rnd)
	if err != nil {
		c.t.Fatal(err)
	}
	cred := noise.NewCredential(key)
	if allowed {
		c.allowed[cred.Identity().Name] = true
	}
	p, err := New(Config{
		Credential: cred,
		Admit: func(id auth.Identity) error {
			if !c.allowed[id.Name] || c.deny[i][id.Name] {
				return fmt.Errorf("not on the list")
			}
			return nil
		},
		Group: cmp.Or(c.names[i], "test"),
		Rand:  rnd,
		Suite: c.suite,
	})
	if err != nil {
		c.t.Fatal(err)
	}
	rec := &recorder{Participant: p, commons: map[membership.ViewID][]byte{}, views: map[membership.ViewID]membership.View{}}
	var seeds []netip.AddrPort
	for j := range i {
		seeds = append(seeds, transport.Addr(j))
	}
	cfg := membership.Config{
		Self:        membership.Endpoint{Addr: transport.Addr(i), Inc: uint32(i + 1)},
		Group:       42,
		Seeds:       seeds,
		Seed:        uint64(i),
		Timing:      c.timing,
		Participant: rec,
		Rand:        rnd,
	}
	if c.plain {
		cfg.Participant = nil
	}
	m, err := membership.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.members = append(c.members, m)
	c.parts = append(c.parts, rec)
	c.crashed = append(c.crashed, false)
	c.events = append(c.events, nil)
	c.cpu = append(c.cpu, 0)
	c.busy = append(c.busy, 0)
	if c.des {
		c.handle(i, c.now, func() {})
	} else {
		c.drain(i)
	}
	return i
}

func (c *cluster) drain(i int) {
	m := c.members[i]
	rd := m.Ready()
	for _, p := range rd.Packets {
		if c.crashed[i] {
			break
		}
		if c.des {
			c.outbox = append(c.outbox, outgoing{from: i, to: p.Addr, data: slices.Clone(p.Data)})
			continue
		}
		c.send(i, p.Addr, p.Data)
	}
	for _, ev := range rd.Events {
		if ev.Kind == membership.Message {
			ev.Data = slices.Clone(ev.Data)
		}
		c.events[i] = append(c.events[i], ev)
	}
	m.Advance()
	if !c.des && m.Pending() {
		// The member's own work left for after its outputs: they have
		// left, and nothing else comes in between (in des mode, handle's
		// callers start it once they have left, see carryOn).
		m.Continue()
		c.drain(i)
	}
}

// send puts a datagram of member i on the network at c.now (plus the
// latency), through onSend.
func (c *cluster) send(i int, to netip.AddrPort, data []byte) {
	out := [][]byte{data}
	if c.onSend != nil {
		out = c.onSend(i, to, data)
	}
	for _, d := range out {
		c.net.Send(c.now+c.latency, c.members[i].Self().Addr, to, d)
	}
}

func (c *cluster) index(a netip.AddrPort) int { return int(a.Port()) - 10000 }

// run advances the clock by d.
func (c *cluster) run(d time.Duration) {
	if c.des {
		c.runEvents(c.now+d, nil)
		return
	}
	for end := c.now + d; c.now < end; {
		c.now += time.Millisecond
		c.due = c.net.Due(c.now, c.due[:0])
		for _, dl := range c.due {
			i := c.index(dl.To)
			if i >= 0 && i < len(c.members) && !c.crashed[i] {
				start := benchutil.ThreadCPU()
				c.members[i].Receive(dl.From, dl.Data)
				c.drain(i)
				c.cpu[i] += benchutil.ThreadCPU() - start
			}
		}
		for i, m := range c.members {
			if c.crashed[i] {
				continue
			}
			start := benchutil.ThreadCPU()
			m.Tick(c.now)
			m.Flush()
			c.drain(i)
			c.cpu[i] += benchutil.ThreadCPU() - start
		}
	}
}

// runUntil runs until cond holds, failing after limit.
func (c *cluster) runUntil(limit time.Duration, what string, cond func() bool) {
	c.t.Helper()
	c.doneAt = c.now
	if c.des {
		// Already true: since the handling that made the last
		// condition true, at the latest.
		c.doneAt = max(c.now, c.lastEnd)
		if !cond() && !c.runEvents(c.now+limit, cond) {
			c.t.Fatalf("after %v: %s did not happen; views:%s", limit, what, c.describe())
		}
		return
	}
	for end := c.now + limit; !cond(); {
		if c.now >= end {
			c.t.Fatalf("after %v: %s did not happen; views:%s", limit, what, c.describe())
		}
		c.run(time.Millisecond)
		c.doneAt = c.now
	}
}

func (c *cluster) describe() string {
	s := ""
	for i, m := range c.members {
		state := "up"
		if c.crashed[i] {
			state = "crashed"
		}
		s += fmt.Sprintf("\n  %d (%s, epoch %d): %v", i, state, c.parts[i].Epoch(), m.View())
	}
	return s
}

// converged reports whether the members listed share one view of exactly
// them, installed and unblocked.
func (c *cluster) converged(idx ...int) bool {
	first := c.members[idx[0]].View()
	if len(first.Members) != len(idx) {
		return false
	}
	for _, i := range idx {
		m := c.members[i]
		if m.ViewID() != first.ID || m.Blocked() || !first.Has(m.Self()) {
			return false
		}
	}
	return true
}

func (c *cluster) crash(i int) {
	c.crashed[i] = true
	c.net.Detach(c.members[i].Self().Addr)
}

// form starts n allowed members and runs until they share one view.
func (c *cluster) form(n int) {
	c.t.Helper()
	for range n {
		c.add(true)
	}
	c.runUntil(10*time.Second, "forming", func() bool { return c.converged(seq(0, n)...) })
}

// seq lists the integers from a to b-1.
func seq(a, b int) []int {
	var s []int
	for i := a; i < b; i++ {
		s = append(s, i)
	}
	return s
}

// counter is the value of membership's counter name at member i.
func (c *cluster) counter(i int, name string) uint64 {
	var n uint64
	for _, k := range c.members[i].Counters() {
		if k.Layer == "membership" && k.Name == name {
			n += k.Value
		}
	}
	return n
}

// sameEpoch checks that the members listed installed their current view
// with one epoch digest, and returns it.
func (c *cluster) sameEpoch(idx ...int) [32]byte {
	c.t.Helper()
	id := c.members[idx[0]].View().ID
	d0, ok := c.parts[idx[0]].EpochDigest(id)
	if !ok {
		c.t.Fatalf("member %d has no epoch for view %v", idx[0], id)
	}
	for _, i := range idx[1:] {
		d, ok := c.parts[i].EpochDigest(id)
		if !ok || d != d0 {
			c.t.Fatalf("member %d: epoch of view %v differs (installed %v)", i, id, ok)
		}
	}
	return d0
}

// epochOf is the epoch number member i installed view id with (0 if it
// did not).
func (c *cluster) epochOf(i int, id membership.ViewID) uint64 {
	p := c.parts[i].Participant
	p.mu.Lock()
	defer p.mu.Unlock()
	if r := p.history.find(id); r != nil {
		return r.epoch
	}
	return 0
}
