package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var messages int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a small group on loopback and show it working",
		Long: `demo runs a group of five members in this process, each on its own UDP
socket on 127.0.0.1, with the default stack (reliable FIFO multicast and
point-to-point, stability, flow control, fragmentation, bundling) under the
membership protocol, and shows what a group goes through:

  1. members join one by one, each contacting the first as its seed;
  2. everyone multicasts, and every member delivers every message;
  3. a member is killed while all are multicasting: the others suspect it,
     flush, and install a view without it, having delivered the same messages;
  4. the network is cut in two: each side carries on in a view of its own;
  5. the cut heals: the two views find each other and merge into one;
  6. a member leaves gracefully.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if messages < 1 || messages > 100_000 {
				return errors.New("--messages must be between 1 and 100000")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 2*time.Minute)
			defer cancel()
			return runDemo(ctx, cmd.OutOrStdout(), messages)
		},
	}
	cmd.Flags().IntVar(&messages, "messages", 2000, "messages each member multicasts in each burst")
	return cmd
}

// demoTiming makes failures and merges quick to watch, though not so quick
// that a busy machine, which may hold a member's goroutine back for a few
// hundred milliseconds, has it suspected: a view change in the middle of a
// burst, splitting the group, would leave messages that the other side,
// rightly, never delivers.
var demoTiming = membership.Timing{
	Suspect: time.Second,
	Retry:   10 * time.Millisecond,
	Flush:   2 * time.Second,
	Probe:   100 * time.Millisecond,
	Merge:   3 * time.Second,
	Stuck:   10 * time.Second,
}

// cutConn drops datagrams to and from addresses on the other side of a
// simulated network cut, which is how the demo partitions a group whose
// members all live on loopback.
type cutConn struct {
	transport.Conn
	mu      sync.Mutex
	blocked map[netip.AddrPort]bool
}

func (c *cutConn) cut(addrs []netip.AddrPort) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.blocked = make(map[netip.AddrPort]bool)
	for _, a := range addrs {
		c.blocked[a] = true
	}
}

func (c *cutConn) WriteBatch(pkts []transport.Outgoing) (int, error) {
	c.mu.Lock()
	keep := pkts[:0:0]
	for _, p := range pkts {
		if !c.blocked[p.To] {
			keep = append(keep, p)
		}
	}
	c.mu.Unlock()
	if _, err := c.Conn.WriteBatch(keep); err != nil {
		return 0, err
	}
	return len(pkts), nil
}

func (c *cutConn) ReadBatch(pkts []transport.Incoming) (int, error) {
	for {
		n, err := c.Conn.ReadBatch(pkts)
		c.mu.Lock()
		k := 0
		for _, p := range pkts[:n] {
			if !c.blocked[p.From] {
				pkts[k] = p
				k++
			}
		}
		c.mu.Unlock()
		if k > 0 || err != nil {
			return k, err
		}
	}
}

type demo struct {
	out     io.Writer
	start   time.Time
	mu      sync.Mutex
	names   map[conclave.Endpoint]string
	members []*demoMember
}

type demoMember struct {
	name      string
	g         *conclave.Group
	conn      *cutConn
	mu        sync.Mutex
	delivered map[string]int // per sender name, multicasts delivered since resetCounts
	thisView  map[string]int // per sender, delivered in the current view
	inView    map[string]int // per sender, delivered in the last completed view
	views     []conclave.View
	done      chan struct{}
}

func (d *demo) say(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, "%6.3fs  %s\n", time.Since(d.start).Seconds(), fmt.Sprintf(format, args...))
}

// heading writes a line of the demo's own, between the members' lines.
func (d *demo) heading(format string, args ...any) {
	d.mu.Lock()
	defer d.mu.Unlock()
	fmt.Fprintf(d.out, format, args...)
}

func (d *demo) name(e conclave.Endpoint) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if n, ok := d.names[e]; ok {
		return n
	}
	return e.String()
}

func (d *demo) viewString(v conclave.View) string {
	names := make([]string, len(v.Members))
	for i, e := range v.Members {
		names[i] = d.name(e)
	}
	return "[" + strings.Join(names, " ") + "]"
}

func runDemo(ctx context.Context, out io.Writer, burst int) error {
	d := &demo{out: out, start: time.Now(), names: make(map[conclave.Endpoint]string)}
	names := []string{"ann", "bob", "cat", "dan", "eve"}
	var seed netip.AddrPort

	d.heading("1. five members join, one by one, through the first one's address\n")
	for i, name := range names {
		udp, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
		if err != nil {
			return err
		}
		conn := &cutConn{Conn: udp}
		cfg := conclave.Config{Group: "demo", Conn: conn, Timing: demoTiming, Insecure: true}
		if i > 0 {
			cfg.Seeds = []netip.AddrPort{seed}
		} else {
			seed = udp.LocalAddr()
		}
		g, err := conclave.Join(ctx, cfg)
		if err != nil {
			return err
		}
		defer g.Close()
		defer udp.Close()
		d.mu.Lock()
		d.names[g.Self()] = name
		d.mu.Unlock()
		m := &demoMember{name: name, g: g, conn: conn, delivered: map[string]int{}, thisView: map[string]int{}, done: make(chan struct{})}
		d.members = append(d.members, m)
		go d.watch(m)
		d.say("%s starts at %v", name, g.Self().Addr)
		if err := d.await(ctx, d.members, len(d.members)); err != nil {
			return err
		}
	}

	d.heading("\n2. everyone multicasts %d messages\n", burst)
	if err := d.burst(ctx, d.members, burst); err != nil {
		return err
	}
	if err := d.awaitDeliveries(ctx, d.members, burst); err != nil {
		return err
	}
	d.say("every member delivered %d messages from each of the %d members, each sender's in order", burst, len(d.members))

	d.heading("\n3. eve is killed while everyone multicasts\n")
	for _, m := range d.members {
		m.resetCounts()
	}
	living := d.members[:4]
	errc := make(chan error, 1)
	go func() { errc <- d.burst(ctx, living, burst) }()
	d.members[4].g.Close()
	d.say("eve killed")
	if err := d.await(ctx, living, 4); err != nil {
		return err
	}
	if err := <-errc; err != nil {
		return err
	}
	if err := d.awaitDeliveries(ctx, living, burst); err != nil {
		return err
	}
	ref := living[0].lastViewCounts()
	for _, m := range living[1:] {
		if got := m.lastViewCounts(); !maps.Equal(got, ref) {
			return fmt.Errorf("virtual synchrony broken: in the view eve was in, %s delivered %s, but %s delivered %s",
				living[0].name, demoCounts(ref), m.name, demoCounts(got))
		}
	}
	d.say("ann, bob, cat and dan delivered the same messages in the view eve was in: %s", demoCounts(ref))

	d.heading("\n4. the network is cut between {ann bob} and {cat dan}\n")
	sides := [][]*demoMember{living[:2], living[2:]}
	for i, side := range sides {
		var other []netip.AddrPort
		for _, m := range sides[1-i] {
			other = append(other, m.g.Self().Addr)
		}
		for _, m := range side {
			m.conn.cut(other)
		}
	}
	if err := d.await(ctx, sides[0], 2); err != nil {
		return err
	}
	if err := d.await(ctx, sides[1], 2); err != nil {
		return err
	}
	for _, m := range living {
		m.g.Multicast(ctx, []byte("hello from "+m.name+" during the cut"))
	}
	for _, side := range sides {
		if err := d.awaitDeliveries(ctx, side, burst+1); err != nil {
			return err
		}
	}

	d.heading("\n5. the cut heals\n")
	for _, m := range living {
		m.conn.cut(nil)
	}
	if err := d.await(ctx, living, 4); err != nil {
		return err
	}

	d.heading("\n6. dan leaves\n")
	if err := living[3].g.Leave(ctx); err != nil {
		return err
	}
	if err := d.await(ctx, living[:3], 3); err != nil {
		return err
	}
	d.heading("\nok: joins, a failure, a partition and its merge, and a leave, each ending in one agreed view\n")
	return nil
}

// watch prints a member's view changes and counts its deliveries.
func (d *demo) watch(m *demoMember) {
	defer close(m.done)
	for ev := range m.g.Events() {
		switch ev.Kind {
		case conclave.ViewChange:
			m.mu.Lock()
			m.inView = m.thisView
			m.thisView = map[string]int{}
			m.views = append(m.views, ev.View)
			m.mu.Unlock()
			var change []string
			for _, e := range ev.Joined {
				if e != m.g.Self() {
					change = append(change, "+"+d.name(e))
				}
			}
			for _, e := range ev.Failed {
				change = append(change, "-"+d.name(e)+" (failed or cut off)")
			}
			for _, e := range ev.Left {
				change = append(change, "-"+d.name(e)+" (left)")
			}
			d.say("%-3s installs view %d %s %s", m.name, ev.View.ID.LTime, d.viewString(ev.View), strings.Join(change, " "))
		case conclave.Message:
			if ev.Multicast && !strings.HasPrefix(string(ev.Data), "m ") {
				d.say("%-3s delivers %q", m.name, ev.Data)
			}
			m.mu.Lock()
			m.delivered[d.name(ev.From)]++
			m.thisView[d.name(ev.From)]++
			m.mu.Unlock()
		case conclave.Left:
			d.say("%-3s has left", m.name)
		}
	}
}

func (m *demoMember) resetCounts() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.delivered = map[string]int{}
}

func (m *demoMember) lastViewCounts() map[string]int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.inView
}

// demoCounts lists the messages delivered from each sender, by name:
// "2000 from ann, 2000 from bob, 1377 from eve".
func demoCounts(counts map[string]int) string {
	var parts []string
	for _, name := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%d from %s", counts[name], name))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// await waits until every member listed is in one view of n members.
func (d *demo) await(ctx context.Context, ms []*demoMember, n int) error {
	for _, m := range ms {
		if _, err := m.g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == n }); err != nil {
			return fmt.Errorf("%s never reached a view of %d members: %w", m.name, n, err)
		}
	}
	id := ms[0].g.View().ID
	for _, m := range ms[1:] {
		if m.g.View().ID != id {
			// One view change may still be under way; wait for agreement.
			if _, err := m.g.AwaitView(ctx, func(v conclave.View) bool { return v.ID == ms[0].g.View().ID }); err != nil {
				return err
			}
		}
	}
	// AwaitView sees a view as soon as the member installs it; wait until
	// each member's watch has taken in its event too, and with it the
	// counts of the view before.
	for {
		behind := false
		for _, m := range ms {
			m.mu.Lock()
			behind = behind || len(m.views) == 0 || m.views[len(m.views)-1].ID != m.g.View().ID
			m.mu.Unlock()
		}
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("view events not taken in: %w", ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (d *demo) burst(ctx context.Context, ms []*demoMember, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, len(ms))
	for _, m := range ms {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range n {
				if err := m.g.Multicast(ctx, fmt.Appendf(nil, "m %s %d", m.name, k)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// awaitDeliveries waits until every member listed has delivered n messages
// from each of them in the current view.
func (d *demo) awaitDeliveries(ctx context.Context, ms []*demoMember, n int) error {
	for {
		ok := true
		for _, m := range ms {
			m.mu.Lock()
			for _, s := range ms {
				ok = ok && m.delivered[s.name] >= n
			}
			m.mu.Unlock()
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return &hintError{
				err:  fmt.Errorf("messages not delivered: %w", ctx.Err()),
				hint: "if a view change above left a member out, the machine was too busy for the demo's failure detection (1s): messages sent in a view are delivered only to its members",
			}
		case <-time.After(5 * time.Millisecond):
		}
	}
}
