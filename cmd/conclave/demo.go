package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var messages int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a small group on loopback and show it working",
		Long: `demo runs a secured group of five members in this process, each on its own
UDP socket on 127.0.0.1, with the default stack (reliable FIFO multicast and
point-to-point, stability, flow control, fragmentation, bundling) under the
membership protocol, and shows what a group goes through.

Each member has a Noise key, generated for the run into a temporary directory
(mode 0700, each key file 0600, removed at the end), and admits the five
members' public keys. Every view has a key epoch of its own, agreed by its
members during the view change; each view line shows it, and why the key
changed (join, leave, failure, merge, rekey).

  1. members join one by one, each contacting the first as its seed;
  2. a stranger whose key is not on the allow list tries to join: it is
     refused, for its key, and learns nothing of the group;
  3. everyone multicasts, and every member delivers every message;
  4. a member is killed while all are multicasting: the others suspect it,
     flush, and install a view without it, having delivered the same
     messages, with a new key the killed member never held;
  5. the network is cut in two: each side carries on in a view of its own;
  6. the cut heals: the two views find each other and merge into one;
  7. a member leaves gracefully;
  8. every datagram on the wire is sealed: a multicast's text is nowhere in
     the datagrams that carry it, and the members read it; then a member
     that kept every key it ever held is evicted (its key revoked and
     Group.Evict), and tries them all on what the group sends next: it
     opened the datagrams of its own views, and opens none of the later
     ones.`,
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
	wire    capture // what the member sends, as the network sees it
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
	c.wire.record(keep)
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
	keys    *demoKeys
	refused *refusals
	revoked sync.Map // identity → true: keys taken off every member's list
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
	epochs    []uint64 // of each view in views
	viewLine  string   // the last view's line, printed with its key change
	done      chan struct{}
	hoard     *hoard // cat's: every key it was given
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
	d := &demo{out: out, start: time.Now(), names: make(map[conclave.Endpoint]string), refused: newRefusals()}
	names := []string{"ann", "bob", "cat", "dan", "eve"}
	keys, err := makeDemoKeys(append(slices.Clone(names), "mallory"))
	if err != nil {
		return err
	}
	defer keys.remove()
	d.keys = keys
	allowed := keys.admit(names)
	admit := func(id auth.Identity) error {
		if _, gone := d.revoked.Load(id.String()); gone {
			return fmt.Errorf("%v: key revoked", id)
		}
		return allowed(id)
	}

	d.heading("keys: a Noise key for each member, and one for a stranger, mallory, in %s\n", keys.dir)
	for _, name := range append(slices.Clone(names), "mallory") {
		id := keys.creds[name].Identity()
		d.heading("  %-7s %s (fingerprint %s)\n", name, id, id.Fingerprint)
	}
	d.heading("every member allows the keys of ann, bob, cat, dan and eve\n")

	d.heading("\n1. five members join, one by one, through the first one's address\n")
	var seed netip.AddrPort
	for i, name := range names {
		m, err := d.launch(ctx, name, admit, seed)
		if err != nil {
			return err
		}
		if i == 0 {
			seed = m.g.Self().Addr
		}
		d.members = append(d.members, m)
		if err := d.await(ctx, d.members, len(d.members)); err != nil {
			return err
		}
	}

	d.heading("\n2. mallory, whose key is not on the allow list, tries to join through ann\n")
	if err := d.stranger(ctx, seed); err != nil {
		return err
	}

	d.heading("\n3. everyone multicasts %d messages\n", burst)
	if err := d.burst(ctx, d.members, burst); err != nil {
		return err
	}
	if err := d.awaitDeliveries(ctx, d.members, burst); err != nil {
		return err
	}
	d.say("every member delivered %d messages from each of the %d members, each sender's in order", burst, len(d.members))

	d.heading("\n4. eve is killed while everyone multicasts\n")
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
	before, after := living[0].lastEpochs()
	d.say("the view without eve has key epoch %d, agreed without eve: eve, which held epoch %d, cannot derive it", after, before)

	d.heading("\n5. the network is cut between {ann bob} and {cat dan}\n")
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

	d.heading("\n6. the cut heals\n")
	for _, m := range living {
		m.conn.cut(nil)
	}
	if err := d.await(ctx, living, 4); err != nil {
		return err
	}

	d.heading("\n7. dan leaves\n")
	if err := living[3].g.Leave(ctx); err != nil {
		return err
	}
	if err := d.await(ctx, living[:3], 3); err != nil {
		return err
	}
	if err := d.evictHoarder(ctx, living[0], living[1], living[2]); err != nil {
		return err
	}
	d.heading("\nok: joins, a refused stranger, a failure, a partition and its merge, a leave and an eviction, each ending in one agreed view with a key of its own; every datagram sealed under its view's keys\n")
	return nil
}

// evictHoarder shows a multicast sealed on the wire, then evicts cat, which
// kept every key it held, and has it try them on the group's later
// datagrams.
func (d *demo) evictHoarder(ctx context.Context, ann, bob, cat *demoMember) error {
	d.heading("\n8. what the network sees, and cat, which kept every key it ever held, is evicted\n")
	for _, m := range []*demoMember{ann, bob, cat} {
		m.resetCounts()
	}
	ann.conn.wire.take()
	text := "for ann, bob and cat"
	if err := ann.g.Multicast(ctx, []byte(text)); err != nil {
		return err
	}
	if err := d.awaitFrom(ctx, []*demoMember{ann, bob, cat}, "ann", 1); err != nil {
		return err
	}
	before := ann.conn.wire.take()
	if len(before) == 0 {
		return errors.New("nothing of ann's multicast captured on the wire")
	}
	for _, b := range before {
		if bytes.Contains(b, []byte(text)) {
			return fmt.Errorf("ann's multicast travels in clear: %x", b)
		}
	}
	d.say("on the wire, ann's datagrams (%d) hold no trace of %q: %s (%d bytes)", len(before), text, hexPrefix(before[0], 24), len(before[0]))
	opened := 0
	for _, b := range before {
		if cat.hoard.open(b) {
			opened++
		}
	}
	d.say("cat, a member, opens %d of them with its keys", opened)
	if opened == 0 {
		return errors.New("cat cannot open the datagrams of its own view: the demo's attacker is broken")
	}

	d.revoked.Store(d.keys.creds["cat"].Identity().String(), true)
	d.say("cat's key is taken off every member's list, and ann evicts cat")
	if err := ann.g.Evict(ctx, cat.g.Self()); err != nil {
		return err
	}
	if err := d.await(ctx, []*demoMember{ann, bob}, 2); err != nil {
		return err
	}
	without := ann.g.View().ID.Wire()
	later := "for ann and bob only"
	if err := ann.g.Multicast(ctx, []byte(later)); err != nil {
		return err
	}
	if err := d.awaitFrom(ctx, []*demoMember{ann, bob}, "ann", 2); err != nil {
		return err
	}
	// What ann sent in the view without cat (not the end of the view
	// before, which cat was in).
	var after [][]byte
	for _, b := range ann.conn.wire.take() {
		if h, err := bottom.Parse(b); err == nil && h.View == without {
			after = append(after, b)
		}
	}
	if len(after) == 0 {
		return errors.New("nothing of ann's later multicast captured on the wire")
	}
	opened = 0
	for _, b := range after {
		if cat.hoard.open(b) {
			opened++
		}
	}
	if opened > 0 {
		return fmt.Errorf("cat, evicted, opened %d of ann's %d later datagrams", opened, len(after))
	}
	d.say("cat tries every key of the %d epochs it held, as every sender, on ann's %d datagrams in the view without it: it opens none", cat.hoard.epochs(), len(after))
	return nil
}

// launch starts the member name, with seed as its seed unless it is not
// valid, and watches it.
func (d *demo) launch(ctx context.Context, name string, admit func(auth.Identity) error, seed netip.AddrPort) (*demoMember, error) {
	udp, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
	if err != nil {
		return nil, err
	}
	conn := &cutConn{Conn: udp}
	cfg := conclave.Config{
		Group: "demo", Conn: conn, Timing: demoTiming,
		Credential: d.keys.creds[name], Admit: admit,
		Logger: slog.New(d.refused.handler(name)),
	}
	var h *hoard
	if name == "cat" {
		// cat will turn: it keeps every key it is given.
		h = &hoard{}
		cfg.Options.Layers = map[string]any{"encrypt": encrypt.Config{NewSealer: h.newSealer}}
	}
	if seed.IsValid() {
		cfg.Seeds = []netip.AddrPort{seed}
	}
	g, err := conclave.Join(ctx, cfg)
	if err != nil {
		udp.Close()
		return nil, err
	}
	go func() {
		<-g.Done()
		udp.Close()
	}()
	d.mu.Lock()
	d.names[g.Self()] = name
	d.mu.Unlock()
	m := &demoMember{name: name, g: g, conn: conn, delivered: map[string]int{}, thisView: map[string]int{}, done: make(chan struct{}), hoard: h}
	go d.watch(m)
	d.say("%s starts at %v", name, g.Self().Addr)
	return m, nil
}

// stranger runs mallory, whose own allow list holds the members' keys and
// its own (so that only the group's check keeps it out), until a member
// has refused its key and the group has multicast a message, and shows
// what it learnt: nothing.
func (d *demo) stranger(ctx context.Context, seed netip.AddrPort) error {
	id := d.keys.creds["mallory"].Identity()
	m, err := d.launch(ctx, "mallory", auth.Allow(append(slices.Clone(d.keys.allow), id.String())...), seed)
	if err != nil {
		return err
	}
	defer m.g.Close()
	var r refusal
	for found := false; !found; {
		for _, f := range d.refused.all() {
			if f.identity == id.String() {
				r, found = f, true
			}
		}
		if found {
			break
		}
		select {
		case <-d.refused.news:
		case <-ctx.Done():
			return fmt.Errorf("mallory was never refused: %w", ctx.Err())
		}
	}
	// The admission check's own words (auth.Allow's) say it best.
	reason := r.reason
	if _, check, ok := strings.Cut(reason, "refused: "); ok {
		reason = check
	}
	d.say("%s refuses mallory: %s", r.by, reason)
	if err := d.members[0].g.Multicast(ctx, []byte("hello from ann, for members only")); err != nil {
		return err
	}
	if err := d.awaitFrom(ctx, d.members, "ann", 1); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.views {
		if len(v.Members) != 1 {
			return fmt.Errorf("mallory entered the view %s", d.viewString(v))
		}
	}
	if len(m.delivered) > 0 {
		return fmt.Errorf("mallory delivered the group's messages: %s", demoCounts(m.delivered))
	}
	d.say("mallory saw only views of itself, with keys of its own, and delivered none of the group's messages")
	for _, dm := range d.members {
		dm.resetCounts()
	}
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
			m.epochs = append(m.epochs, ev.Epoch)
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
			line := fmt.Sprintf("%-3s installs view %d %s", m.name, ev.View.ID.LTime, d.viewString(ev.View))
			if len(change) > 0 {
				line += " " + strings.Join(change, " ")
			}
			// Printed with the key change that follows.
			m.mu.Lock()
			m.viewLine = line
			m.mu.Unlock()
		case conclave.KeyChange:
			m.mu.Lock()
			line := m.viewLine
			m.mu.Unlock()
			d.say("%s, key epoch %d (%s)", line, ev.Epoch, ev.Reason)
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

// lastEpochs returns the epochs of the member's last two views.
func (m *demoMember) lastEpochs() (before, last uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := len(m.epochs)
	return m.epochs[n-2], m.epochs[n-1]
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
	return d.awaitFrom(ctx, ms, "", n)
}

// awaitFrom waits until every member listed has delivered n messages from
// sender, or from each of them if sender is "".
func (d *demo) awaitFrom(ctx context.Context, ms []*demoMember, sender string, n int) error {
	for {
		ok := true
		for _, m := range ms {
			m.mu.Lock()
			for _, s := range ms {
				ok = ok && (sender != "" && sender != s.name || m.delivered[s.name] >= n)
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
