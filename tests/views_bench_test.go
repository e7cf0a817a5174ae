package tests

// Benchmarks of membership changes over real UDP sockets on loopback: one
// conclave.Group per member in this process, each on a socket of its own.
//
//	BenchmarkViewChange/members=N    a member crashes (Close, socket closed)
//	                                 and a survivor suspects it (Evict) at
//	                                 once: time from Evict until every
//	                                 survivor has installed the view without
//	                                 it. The failure detector's timeout is
//	                                 not counted: Evict stands for it.
//	BenchmarkViewChange/coordinator/members=N
//	                                 the same with the coordinator crashing;
//	                                 the next member in line suspects it (a
//	                                 suspicion of the coordinator reported
//	                                 to it by anyone else is ignored until
//	                                 its own detector agrees).
//	BenchmarkViewChange/participant/members=N
//	                                 the first, with a participant at every
//	                                 member (membershiptest's: a toy key
//	                                 agreement, control messages under a MAC):
//	                                 the view change then prepares and
//	                                 confirms the new view's decision before
//	                                 installing it.
//	BenchmarkJoin/members=N          time from a new member's Join until
//	                                 every member, old and new, has installed
//	                                 the view that contains it.
//	BenchmarkJoin/participant/members=N
//	                                 the same with a participant: the joiner
//	                                 is admitted by a three-message handshake
//	                                 first.
//	BenchmarkRekey/members=N         time from Rekey at the coordinator until
//	                                 every member has installed the next view,
//	                                 of the same members.
//	BenchmarkRekey/participant/members=N
//	                                 the same with a participant, which
//	                                 agrees on the new view's key.
//
// One operation is one view change at exactly N members: after each, with
// the timer stopped, a new member takes the crashed one's place (or the
// joiner leaves), so any -benchtime works; but each of those untimed
// restorations is a join, which takes tens of milliseconds, so use a fixed
// count:
//
//	go test -run '^$' -bench 'ViewChange|Join|Rekey' -benchtime 5x ./tests/
//
// -benchtime 1x measures one operation per size; the default -benchtime
// runs hundreds, each followed by a join.
//
// Besides ns/op (the mean), each benchmark reports the median and the
// maximum in milliseconds, and logs, to show where the time goes: for each
// operation when the coordinator sent and received each kind of control
// message; a timeline of every kind of control message, by role, read off
// the sockets (median over operations, from the start of the operation);
// the longest step of that timeline; and the membership protocol's counters
// (rounds started and restarted, timeouts…).

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// benchTiming keeps the failure detector out of the way: 64 members on two
// cores, with the race detector even, must not suspect each other by
// mistake. The other timers are the defaults, as in production.
var benchTiming = membership.Timing{Suspect: 10 * time.Second}

// benchOptions configures the stack of a group of n members. By default
// every member gossips its stability vector to every other every 5ms, even
// when idle: n(n-1)·200 datagrams a second, 800,000 at 64 members, which
// alone saturate two cores; members fall behind, miss the flush deadline,
// and the group takes many seconds to form and falls apart at its first
// view change. Above benchQuietFrom members the benchmarks gossip every
// 100ms instead. A view change with no messages in flight does not wait for
// gossip; it only competes with it for the processor.
func benchOptions(n int) compose.Options {
	var o compose.Options
	if n > benchQuietFrom {
		o.Stable.Interval = benchQuietGossip
	}
	return o
}

const (
	benchQuietFrom   = 16
	benchQuietGossip = 100 * time.Millisecond
)

const (
	// benchFormLimit bounds the forming of the group (merges of views of
	// one, which at 64 members take a while) and each restoration.
	benchFormLimit = 5 * time.Minute
	// benchOpLimit bounds one measured view change or join.
	benchOpLimit = 10 * time.Second
	// benchJoinBatch is how many members join at once while the group
	// forms.
	benchJoinBatch = 8
)

func BenchmarkViewChange(b *testing.B) {
	for _, n := range []int{5, 16, 64} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchViewChange(b, formCluster(b, n, false), false) })
	}
	for _, n := range []int{5, 16, 64} {
		b.Run(fmt.Sprintf("coordinator/members=%d", n), func(b *testing.B) { benchViewChange(b, formCluster(b, n, false), true) })
	}
	for _, n := range []int{5, 16} {
		b.Run(fmt.Sprintf("participant/members=%d", n), func(b *testing.B) { benchViewChange(b, formCluster(b, n, true), false) })
	}
}

// benchViewChange crashes a member of a group of n and measures the view
// change that removes it. The victim is a member in the middle of the view,
// or its coordinator; the suspecting member is the last of the view (it
// reports to the coordinator, one datagram more), or for a crashed
// coordinator the next in line, which takes over.
func benchViewChange(b *testing.B, c *cluster, coordinator bool) {
	n := len(c.members)
	var ops []timeline
	for b.Loop() {
		b.StopTimer()
		v := c.members[0].g.View()
		victim, suspecter := c.byEndpoint(v.Members[n/2]), c.byEndpoint(v.Members[n-1])
		if coordinator {
			victim, suspecter = c.byEndpoint(v.Members[0]), c.byEndpoint(v.Members[1])
		}
		c.crash(victim)
		ops = append(ops, c.measure(b, func(ctx context.Context) map[netip.AddrPort]string {
			if err := suspecter.g.Evict(ctx, victim.g.Self()); err != nil {
				b.Fatal(err)
			}
			return map[netip.AddrPort]string{suspecter.g.LocalAddr(): "suspecter"}
		}))
		c.add(b) // back to n members, for the next operation
		b.StartTimer()
	}
	who := "a member crashed, suspected by the last member (which reports to the coordinator)"
	if coordinator {
		who = "the coordinator crashed, suspected by the next in line (which takes over)"
	}
	report(b, "viewchange", fmt.Sprintf("%d members%s, %s; median over operations, ms after Evict", n, c.with(), who), ops)
}

func BenchmarkJoin(b *testing.B) {
	for _, n := range []int{5, 16} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) { benchJoin(b, formCluster(b, n, false)) })
	}
	b.Run("participant/members=16", func(b *testing.B) { benchJoin(b, formCluster(b, 16, true)) })
}

// benchJoin starts a new member next to a group of n, with the group's
// members as seeds, and measures until every member of the group, the new
// one included, has installed the view of n+1. The new member then leaves,
// untimed.
func benchJoin(b *testing.B, c *cluster) {
	n := len(c.members)
	var ops []timeline
	for b.Loop() {
		b.StopTimer()
		conn := c.listen(b) // the socket is the process's, not the join's
		var joiner *benchMember
		ops = append(ops, c.measure(b, func(context.Context) map[netip.AddrPort]string {
			joiner = c.join(b, conn)
			return map[netip.AddrPort]string{joiner.g.LocalAddr(): "joiner"}
		}))
		c.leave(b, joiner)
		b.StartTimer()
	}
	report(b, "join", fmt.Sprintf("%d members%s and a joiner; median over operations, ms after Join", n, c.with()), ops)
}

func BenchmarkRekey(b *testing.B) {
	b.Run("members=16", func(b *testing.B) { benchRekey(b, formCluster(b, 16, false)) })
	b.Run("participant/members=16", func(b *testing.B) { benchRekey(b, formCluster(b, 16, true)) })
}

// benchRekey asks the coordinator for a rekey round and measures until
// every member has installed the next view, of the same members.
func benchRekey(b *testing.B, c *cluster) {
	var ops []timeline
	for b.Loop() {
		b.StopTimer()
		v := c.members[0].g.View()
		coord := c.byEndpoint(v.Coordinator())
		ops = append(ops, c.measure(b, func(ctx context.Context) map[netip.AddrPort]string {
			if err := coord.g.Rekey(ctx); err != nil {
				b.Fatal(err)
			}
			return nil
		}))
		b.StartTimer()
	}
	report(b, "rekey", fmt.Sprintf("%d members%s; median over operations, ms after Rekey", len(c.members), c.with()), ops)
}

// measure times one operation: act, then wait until every member of the
// cluster (as act leaves it) has installed the view of exactly them. It is
// called, and returns, with the timer stopped. act returns the roles of
// members to name in the timeline.
func (c *cluster) measure(b *testing.B, act func(context.Context) map[netip.AddrPort]string) timeline {
	b.Helper()
	marks := c.marks()
	before := c.counters()
	ctx, cancel := context.WithTimeout(context.Background(), benchOpLimit)
	defer cancel()
	c.trace.start()
	b.StartTimer()

	t0 := time.Now()
	roles := act(ctx)
	last, err := c.awaitInstalled(ctx, marks)

	b.StopTimer()
	tl := c.trace.stop(t0, last, c.roles(roles))
	tl.counters = diffCounters(c.counters(), before)
	if err == nil && !c.agreed() {
		err = errors.New("the members installed different views")
	}
	if err == nil {
		err = c.sameKey()
	}
	if err != nil {
		b.Fatalf("%v\nviews: %s\nprotocol counters during the operation: %v", err, c.viewSummary(), tl.counters)
	}
	return tl
}

// report reports the median and the maximum of the operations' durations
// (ns/op is their mean), and logs each and the median timeline.
func report(b *testing.B, what, title string, ops []timeline) {
	if len(ops) == 0 {
		return
	}
	var took []time.Duration
	for _, tl := range ops {
		took = append(took, tl.took)
	}
	s := slices.Sorted(slices.Values(took))
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(s[len(s)/2]), "p50-ms/"+what)
	b.ReportMetric(ms(s[len(s)-1]), "max-ms/"+what)
	var lines []string
	for _, tl := range ops {
		lines = append(lines, "  "+tl.coordinatorLine())
	}
	b.Logf("%s: %d operations; the coordinator's messages (↑ first sent, ↓ last received), ms:\n%s",
		what, len(ops), strings.Join(lines, "\n"))
	b.Logf("%s:\n%s", title, medianTimeline(ops))
}

// A cluster is the members of one group, each with its own socket and a
// goroutine that drains its events.
type cluster struct {
	name        string
	options     compose.Options
	participant bool // every member has a test participant
	members     []*benchMember
	trace       *ctlTrace
}

type benchMember struct {
	g    *conclave.Group
	conn transport.Conn    // closed with the member: the process is gone
	part *benchParticipant // with a participant

	mu      sync.Mutex
	views   []installation // every view installed, in order
	changed chan struct{}  // closed and replaced at each
	done    chan struct{}  // closed when Events is
}

type installation struct {
	view conclave.View
	at   time.Time // when the application got the event
}

// formCluster starts a group of n members and waits until they share one
// view. Members join in batches of benchJoinBatch, each with the group's
// members as seeds, so that the group grows by a few merges into the large
// view rather than by many merges of small ones.
func formCluster(b *testing.B, n int, participant bool) *cluster {
	b.Helper()
	c := &cluster{name: b.Name(), options: benchOptions(n), participant: participant}
	c.trace = &ctlTrace{group: conclave.GroupID(c.name)}
	start := time.Now()
	c.start(b, c.listen(b), conclave.Config{})
	for len(c.members) < n {
		k := min(benchJoinBatch, n-len(c.members))
		seeds := c.addrs()
		for range k {
			c.start(b, c.listen(b), conclave.Config{Seeds: seeds})
		}
		c.awaitFull(b)
	}
	gossip := "every 5ms (the default)"
	if d := c.options.Stable.Interval; d != 0 {
		gossip = "every " + d.String()
	}
	b.Logf("formed a group of %d%s in %v; stability gossip %s", n, c.with(), time.Since(start).Round(time.Millisecond), gossip)
	return c
}

// listen opens a loopback socket whose control datagrams the trace sees.
func (c *cluster) listen(b *testing.B) transport.Conn {
	b.Helper()
	uc, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
	if err != nil {
		b.Fatal(err)
	}
	conn := &tracedConn{Conn: uc, trace: c.trace, self: uc.LocalAddr()}
	b.Cleanup(func() { conn.Close() })
	return conn
}

func (c *cluster) start(b *testing.B, conn transport.Conn, cfg conclave.Config) *benchMember {
	b.Helper()
	cfg.Group, cfg.Conn, cfg.Timing, cfg.Options = c.name, conn, benchTiming, c.options
	var part *benchParticipant
	if c.participant {
		part = newBenchParticipant(conn.LocalAddr())
		cfg.Participant = part
	} else {
		cfg.Insecure = true
	}
	g, err := conclave.Join(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	m := &benchMember{g: g, conn: conn, part: part, changed: make(chan struct{}), done: make(chan struct{})}
	go m.drain()
	b.Cleanup(func() { g.Close() })
	c.members = append(c.members, m)
	return m
}

func (c *cluster) addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, m := range c.members {
		out = append(out, m.g.LocalAddr())
	}
	return out
}

// join starts a member on conn with every member's address as seeds.
func (c *cluster) join(b *testing.B, conn transport.Conn) *benchMember {
	return c.start(b, conn, conclave.Config{Seeds: c.addrs()})
}

// add brings the group back to its size with a new member, and waits for
// the full view.
func (c *cluster) add(b *testing.B) {
	b.Helper()
	c.join(b, c.listen(b))
	c.awaitFull(b)
}

func (m *benchMember) drain() {
	defer close(m.done)
	for ev := range m.g.Events() {
		if ev.Kind != conclave.ViewChange {
			continue
		}
		at := time.Now()
		m.mu.Lock()
		m.views = append(m.views, installation{view: ev.View, at: at})
		close(m.changed)
		m.changed = make(chan struct{})
		m.mu.Unlock()
	}
}

// await waits until the member has installed, among its views from index
// from on, one for which ok holds, and returns the first such.
func (m *benchMember) await(ctx context.Context, from int, ok func(conclave.View) bool) (installation, error) {
	for {
		m.mu.Lock()
		views, changed := m.views, m.changed
		m.mu.Unlock()
		for _, in := range views[min(from, len(views)):] {
			if ok(in.view) {
				return in, nil
			}
		}
		select {
		case <-changed:
		case <-m.done:
			return installation{}, fmt.Errorf("member %v stopped", m.g.Self())
		case <-ctx.Done():
			return installation{}, fmt.Errorf("member %v: %w", m.g.Self(), ctx.Err())
		}
	}
}

// marks notes how many views each member has installed so far; a member
// started later has none.
func (c *cluster) marks() map[*benchMember]int {
	out := make(map[*benchMember]int, len(c.members))
	for _, m := range c.members {
		m.mu.Lock()
		out[m] = len(m.views)
		m.mu.Unlock()
	}
	return out
}

// awaitInstalled waits until every member has installed, after its mark,
// the view of exactly the cluster's members, and returns when the last of
// them did.
func (c *cluster) awaitInstalled(ctx context.Context, marks map[*benchMember]int) (time.Time, error) {
	var last time.Time
	for _, m := range c.members {
		in, err := m.await(ctx, marks[m], c.full)
		if err != nil {
			return last, err
		}
		if in.at.After(last) {
			last = in.at
		}
	}
	return last, nil
}

// full reports whether v is the view of exactly the cluster's members.
func (c *cluster) full(v conclave.View) bool {
	if len(v.Members) != len(c.members) {
		return false
	}
	for _, m := range c.members {
		if !v.Has(m.g.Self()) {
			return false
		}
	}
	return true
}

// awaitFull waits until every member is in one view of all of them.
func (c *cluster) awaitFull(b *testing.B) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchFormLimit)
	defer cancel()
	for {
		for _, m := range c.members {
			if _, err := m.g.AwaitView(ctx, c.full); err != nil {
				b.Fatalf("no view of all %d members after %v: %v\nviews: %s", len(c.members), benchFormLimit, err, c.viewSummary())
			}
		}
		if c.agreed() {
			return
		}
		// Full views with different ids: a round is still settling. Wait
		// for the first member's next view, or a moment.
		wctx, wcancel := context.WithTimeout(ctx, 20*time.Millisecond)
		id := c.members[0].g.View().ID
		c.members[0].g.AwaitView(wctx, func(v conclave.View) bool { return v.ID != id })
		wcancel()
		if ctx.Err() != nil {
			b.Fatalf("members in different views of all %d: %s", len(c.members), c.viewSummary())
		}
	}
}

func (c *cluster) agreed() bool {
	id := c.members[0].g.View().ID
	for _, m := range c.members {
		if m.g.View().ID != id {
			return false
		}
	}
	return true
}

// viewSummary lists the views the members are in, with how many members
// are in each.
func (c *cluster) viewSummary() string {
	type entry struct {
		id         conclave.ViewID
		size, seen int
	}
	var es []entry
	for _, m := range c.members {
		v := m.g.View()
		i := slices.IndexFunc(es, func(e entry) bool { return e.id == v.ID })
		if i < 0 {
			es = append(es, entry{id: v.ID, size: len(v.Members)})
			i = len(es) - 1
		}
		es[i].seen++
	}
	slices.SortFunc(es, func(a, b entry) int { return b.seen - a.seen })
	var s []string
	for _, e := range es {
		s = append(s, fmt.Sprintf("%d of the %d members in %v (of %d)", e.seen, len(c.members), e.id, e.size))
	}
	return strings.Join(s, "; ")
}

// counters sums the membership protocol's counters over the members.
func (c *cluster) counters() map[string]uint64 {
	sum := map[string]uint64{}
	for _, m := range c.members {
		cs, err := m.g.Counters()
		if err != nil {
			continue
		}
		for _, x := range cs {
			if x.Layer == "membership" {
				sum[x.Name] += x.Value
			}
		}
	}
	return sum
}

// diffCounters returns the counters that changed from before to after.
func diffCounters(after, before map[string]uint64) map[string]uint64 {
	d := map[string]uint64{}
	for k, v := range after {
		if v > before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// roles names the members in a timeline: the coordinator of the members'
// view, the ones named in others, and the rest as members.
func (c *cluster) roles(others map[netip.AddrPort]string) func(netip.AddrPort) string {
	v := c.members[0].g.View()
	coord := v.Coordinator().Addr
	return func(a netip.AddrPort) string {
		switch {
		case a == coord:
			return "coordinator"
		case others[a] != "":
			return others[a]
		}
		return "members"
	}
}

func (c *cluster) byEndpoint(e conclave.Endpoint) *benchMember {
	for _, m := range c.members {
		if m.g.Self() == e {
			return m
		}
	}
	panic(fmt.Sprintf("no member %v", e))
}

func (c *cluster) remove(m *benchMember) {
	c.members = slices.DeleteFunc(c.members, func(x *benchMember) bool { return x == m })
}

// crash stops a member without a word and closes its socket, as if its
// process had died.
func (c *cluster) crash(m *benchMember) {
	m.g.Close()
	m.conn.Close()
	c.remove(m)
}

// leave makes a member leave gracefully and waits for the others' view
// without it.
func (c *cluster) leave(b *testing.B, m *benchMember) {
	b.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), benchFormLimit)
	defer cancel()
	if err := m.g.Leave(ctx); err != nil {
		b.Fatalf("leave: %v", err)
	}
	m.conn.Close()
	c.remove(m)
	c.awaitFull(b)
}

// The trace of control messages: a socket wrapper notes, while the trace
// is on, the type and time of every control datagram sent or received, as
// membership.ControlType names it (inside a sealed envelope too).

type ctlTrace struct {
	group uint64
	on    atomic.Bool

	mu     sync.Mutex
	events []ctlEvent
}

type ctlEvent struct {
	at    time.Time
	local netip.AddrPort // the socket that sent or received it
	sent  bool
	typ   string
}

func (t *ctlTrace) start() {
	t.mu.Lock()
	t.events = t.events[:0]
	t.mu.Unlock()
	t.on.Store(true)
}

// note records the control datagrams of one socket's batch.
func (t *ctlTrace) note(local netip.AddrPort, sent bool, data func(i int) []byte, n int) {
	if !t.on.Load() {
		return
	}
	at := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for i := range n {
		if typ, ok := membership.ControlType(data(i), t.group); ok {
			t.events = append(t.events, ctlEvent{at: at, local: local, sent: sent, typ: typ})
		}
	}
}

// A timeline sums up one operation: how long it took (until the last member
// installed the wanted view); for each role (coordinator, joiner…) and type
// of control message, when the first and the last were sent and the last
// received, as offsets from the operation's start, and how many were sent;
// and the
// membership protocol's counters that moved (rounds started, restarted…),
// summed over the members.
type timeline struct {
	took     time.Duration
	at       map[string]time.Duration
	sent     map[string]int
	counters map[string]uint64
}

const installedKey = "installed at every member"

// stop ends the trace and sums it up from t0; role names the member that
// owns a socket.
func (t *ctlTrace) stop(t0, installed time.Time, role func(netip.AddrPort) string) timeline {
	t.on.Store(false)
	t.mu.Lock()
	defer t.mu.Unlock()
	tl := timeline{took: installed.Sub(t0), at: map[string]time.Duration{installedKey: installed.Sub(t0)}, sent: map[string]int{}}
	for _, e := range t.events {
		name := role(e.local) + " " + e.typ
		if e.sent {
			if _, ok := tl.at[name+" first sent"]; !ok {
				tl.at[name+" first sent"] = e.at.Sub(t0)
			} else {
				tl.at[name+" last sent"] = e.at.Sub(t0)
			}
			tl.sent[name]++
		} else {
			tl.at[name+" last received"] = e.at.Sub(t0)
		}
	}
	return tl
}

// coordinatorLine prints the operation's duration and, in time order, when
// the coordinator of the resulting view first sent and last received each
// type of control message.
func (tl timeline) coordinatorLine() string {
	type mark struct {
		name string
		at   time.Duration
	}
	var ms []mark
	for k, d := range tl.at {
		rest, ok := strings.CutPrefix(k, "coordinator ")
		if !ok {
			continue
		}
		if strings.HasSuffix(rest, " last sent") {
			continue
		}
		rest = strings.Replace(strings.Replace(rest, " first sent", "↑", 1), " last received", "↓", 1)
		ms = append(ms, mark{rest, d})
	}
	slices.SortFunc(ms, func(a, b mark) int { return cmp.Compare(a.at, b.at) })
	var sb strings.Builder
	fmt.Fprintf(&sb, "%7.2f:", float64(tl.took)/float64(time.Millisecond))
	for _, m := range ms {
		fmt.Fprintf(&sb, " %s %.2f", m.name, float64(m.at)/float64(time.Millisecond))
	}
	return sb.String()
}

// medianTimeline prints each entry's median over the operations, in time
// order, then the median number of datagrams of each type sent and the
// median of each counter.
func medianTimeline(tls []timeline) string {
	type entry struct {
		key string
		med float64
		n   int // operations that had it
	}
	medians := func(get func(timeline) map[string]float64) []entry {
		byKey := map[string][]float64{}
		for _, tl := range tls {
			for k, v := range get(tl) {
				byKey[k] = append(byKey[k], v)
			}
		}
		var es []entry
		for k, vs := range byKey {
			slices.Sort(vs)
			es = append(es, entry{key: k, med: vs[len(vs)/2], n: len(vs)})
		}
		return es
	}
	at := medians(func(tl timeline) map[string]float64 {
		m := map[string]float64{}
		for k, d := range tl.at {
			m[k] = float64(d) / float64(time.Millisecond)
		}
		return m
	})
	sent := medians(func(tl timeline) map[string]float64 {
		m := map[string]float64{}
		for k, n := range tl.sent {
			m[k] = float64(n)
		}
		return m
	})
	counters := medians(func(tl timeline) map[string]float64 {
		m := map[string]float64{}
		for k, n := range tl.counters {
			m[k] = float64(n)
		}
		return m
	})
	slices.SortFunc(at, func(a, b entry) int { return cmp.Or(cmp.Compare(a.med, b.med), strings.Compare(a.key, b.key)) })
	// The longest step runs between two entries that follow each other in
	// time, from the start to the installation, among those that every
	// operation had.
	var longest [2]entry
	prev := entry{key: "start"}
	for _, e := range at {
		if e.n < len(tls) {
			continue
		}
		if e.med-prev.med > longest[1].med-longest[0].med {
			longest = [2]entry{prev, e}
		}
		if e.key == installedKey {
			break
		}
		prev = e
	}
	byKey := func(a, b entry) int { return strings.Compare(a.key, b.key) }
	slices.SortFunc(sent, byKey)
	slices.SortFunc(counters, byKey)
	var sb strings.Builder
	for _, e := range at {
		fmt.Fprintf(&sb, "  %8.3f ms  %s", e.med, e.key)
		if e.n < len(tls) {
			fmt.Fprintf(&sb, " (in %d of %d)", e.n, len(tls))
		}
		sb.WriteByte('\n')
	}
	list := func(title string, es []entry) {
		sb.WriteString(title)
		for i, e := range es {
			if i > 0 {
				sb.WriteByte(',')
			}
			fmt.Fprintf(&sb, " %s %g", e.key, e.med)
			if e.n < len(tls) {
				fmt.Fprintf(&sb, " (in %d of %d)", e.n, len(tls))
			}
		}
	}
	fmt.Fprintf(&sb, "  longest step: %.3f ms, from %s to %s\n", longest[1].med-longest[0].med, longest[0].key, longest[1].key)
	list("  datagrams sent:", sent)
	list("\n  counters:", counters)
	return sb.String()
}

type tracedConn struct {
	transport.Conn
	trace *ctlTrace
	self  netip.AddrPort
	once  sync.Once
}

func (c *tracedConn) WriteBatch(pkts []transport.Outgoing) (int, error) {
	n, err := c.Conn.WriteBatch(pkts)
	c.trace.note(c.self, true, func(i int) []byte { return pkts[i].Data }, n)
	return n, err
}

func (c *tracedConn) ReadBatch(pkts []transport.Incoming) (int, error) {
	n, err := c.Conn.ReadBatch(pkts)
	c.trace.note(c.self, false, func(i int) []byte { return pkts[i].Data }, n)
	return n, err
}

func (c *tracedConn) Close() error {
	var err error
	c.once.Do(func() { err = c.Conn.Close() })
	return err
}
