package membership_test

import (
	"bytes"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
	"github.com/conclave-go/conclave/transport"
)

// group drives members with the test participant over the in-memory
// network, with a virtual clock (the package's own tests have a harness
// with access to internals; these use only the exported API, as the
// simulator does).
type group struct {
	t       testing.TB
	net     *transport.Network
	members []*membership.Member
	parts   []*membershiptest.Participant
	crashed []bool
	now     time.Duration
	due     []transport.Delivery
	// received counts the bytes delivered to each member.
	received []int
	// events are each member's events, in order (message data not kept).
	events [][]membership.Event
	// tap, if set, sees every datagram sent.
	tap func(from, to netip.AddrPort, data []byte)
	// drop, if set, loses the datagrams for which it holds.
	drop func(from, to netip.AddrPort, data []byte) bool
	// configure adjusts a member before it starts.
	configure func(i int, p *membershiptest.Participant, cfg *membership.Config)
	// hold, if set, sees a member whose input left work for after its
	// outputs (Pending); if it returns true, the work waits for the
	// member's next input instead of Continue.
	hold func(i int) bool
}

var seamTiming = membership.Timing{
	Suspect: 50 * time.Millisecond,
	Retry:   5 * time.Millisecond,
	Flush:   80 * time.Millisecond,
	Probe:   20 * time.Millisecond,
	Merge:   200 * time.Millisecond,
	Stuck:   500 * time.Millisecond,
}

func newGroup(t testing.TB) *group {
	return &group{t: t, net: transport.NewNetwork(7, transport.Faults{})}
}

func (g *group) add() {
	i := len(g.members)
	var seeds []netip.AddrPort
	for j := range i {
		seeds = append(seeds, transport.Addr(j))
	}
	self := membership.Endpoint{Addr: transport.Addr(i), Inc: uint32(i + 1)}
	p := &membershiptest.Participant{Self: self, PSK: []byte("group key"), Name: fmt.Sprintf("m%d", i),
		Rand: &counterRand{seed: byte(i)}}
	cfg := membership.Config{Self: self, Group: 42, Seeds: seeds, Seed: uint64(i), Timing: seamTiming, Participant: p}
	if g.configure != nil {
		g.configure(i, p, &cfg)
	}
	m, err := membership.New(cfg)
	if err != nil {
		g.t.Fatal(err)
	}
	g.members = append(g.members, m)
	g.parts = append(g.parts, p)
	g.crashed = append(g.crashed, false)
	g.received = append(g.received, 0)
	g.events = append(g.events, nil)
	g.drain(i)
}

// counterRand is a deterministic source of secrets for tests.
type counterRand struct {
	seed byte
	n    uint64
}

func (r *counterRand) Read(b []byte) (int, error) {
	for i := range b {
		r.n++
		b[i] = byte(r.n*2654435761>>13) ^ r.seed
	}
	return len(b), nil
}

func (g *group) drain(i int) {
	m := g.members[i]
	rd := m.Ready()
	for _, p := range rd.Packets {
		if g.tap != nil {
			g.tap(m.Self().Addr, p.Addr, p.Data)
		}
		if g.drop != nil && g.drop(m.Self().Addr, p.Addr, p.Data) {
			continue
		}
		g.net.Send(g.now, m.Self().Addr, p.Addr, p.Data)
	}
	for _, ev := range rd.Events {
		ev.Data = nil
		g.events[i] = append(g.events[i], ev)
	}
	m.Advance()
	if m.Pending() {
		if g.hold != nil && g.hold(i) {
			return
		}
		// The member's own work left for after its outputs: they have
		// left, and nothing else comes in between.
		m.Continue()
		g.drain(i)
	}
}

func (g *group) run(d time.Duration) {
	for end := g.now + d; g.now < end; {
		g.now += time.Millisecond
		g.due = g.net.Due(g.now, g.due[:0])
		for _, dl := range g.due {
			i := int(dl.To.Port()) - 10000
			if i >= 0 && i < len(g.members) && !g.crashed[i] {
				g.received[i] += len(dl.Data)
				g.members[i].Receive(dl.From, dl.Data)
				g.drain(i)
			}
		}
		for i, m := range g.members {
			if !g.crashed[i] {
				m.Tick(g.now)
				m.Flush()
				g.drain(i)
			}
		}
	}
}

func (g *group) runUntil(limit time.Duration, what string, cond func() bool) {
	g.t.Helper()
	for end := g.now + limit; !cond(); {
		if g.now >= end {
			g.t.Fatalf("after %v: %s did not happen; views:%s", limit, what, g.describe())
		}
		g.run(time.Millisecond)
	}
}

func (g *group) describe() string {
	s := ""
	for i, m := range g.members {
		s += fmt.Sprintf("\n  %d (crashed %v): %v", i, g.crashed[i], m.View())
	}
	return s
}

// converged reports whether the members listed share one view of exactly
// them, unblocked.
func (g *group) converged(idx ...int) bool {
	first := g.members[idx[0]].View()
	if len(first.Members) != len(idx) {
		return false
	}
	for _, i := range idx {
		v := g.members[i].View()
		if v.ID != first.ID || g.members[i].Blocked() || !first.Has(g.members[i].Self()) {
			return false
		}
	}
	return true
}

func (g *group) index(e membership.Endpoint) int {
	return slices.IndexFunc(g.members, func(m *membership.Member) bool { return m.Self() == e })
}

func (g *group) crash(i int) {
	g.crashed[i] = true
	g.net.Detach(g.members[i].Self().Addr)
}

func (g *group) counter(i int, name string) uint64 {
	for _, c := range g.members[i].Counters() {
		if c.Layer == "membership" && c.Name == name {
			return c.Value
		}
	}
	return 0
}

func (g *group) total(name string) uint64 {
	var n uint64
	for i := range g.members {
		n += g.counter(i, name)
	}
	return n
}

func upTo(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}

// sameEpoch checks that every member listed installed a decision for its
// current view, the same at all of them, and returns it.
func (g *group) sameEpoch(idx ...int) uint64 {
	g.t.Helper()
	id := g.members[idx[0]].View().ID
	want, ok := g.parts[idx[0]].Epoch(id)
	if !ok {
		g.t.Fatalf("member %d installed no decision for %v", idx[0], id)
	}
	for _, i := range idx {
		got, ok := g.parts[i].Epoch(id)
		if !ok || got != want {
			g.t.Fatalf("member %d installed epoch %x (%v) for %v, member %d %x", i, got, ok, id, idx[0], want)
		}
	}
	return want
}

func TestPrepareAndConfirmGiveEveryMemberOneDecision(t *testing.T) {
	g := newGroup(t)
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	if g.total("sent.Prepare") == 0 || g.total("sent.Confirm") == 0 {
		t.Fatal("no prepare step ran")
	}
	// Every view a member installed, alone ones included, has a decision.
	for i, p := range g.parts {
		if n := g.counter(i, "views_installed"); uint64(len(p.Installed())) != n {
			t.Fatalf("member %d installed %d views, %d decisions", i, n, len(p.Installed()))
		}
	}
}

func TestDelegatedDecider(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) { p.Delegate = true }
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	g.sameEpoch(upTo(3)...)
	if g.total("sent.DecideReq") == 0 || g.total("sent.Decision") == 0 {
		t.Fatal("the decision was never delegated")
	}
}

// TestDelegatedDeciderAskedBesideTheSync: the coordinator asks a
// delegated decider as soon as every member has flushed, beside the cut,
// not once every member has reached it, so that the decision is made
// while the members sync; the round installs one epoch everywhere.
func TestDelegatedDeciderAskedBesideTheSync(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) { p.Delegate = true }
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	v := g.members[0].View()
	coord := v.Members[0].Addr
	var order []string
	g.tap = func(from, to netip.AddrPort, data []byte) {
		name, _ := membership.ControlType(data, 42)
		switch {
		case from == coord && (name == "Sync" || name == "DecideReq"):
			order = append(order, name)
		case to == coord && name == "SyncOK":
			order = append(order, name)
		}
	}
	g.members[g.index(v.Members[0])].Rekey()
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	ask := slices.Index(order, "DecideReq")
	if ask < 0 || slices.Index(order, "Sync") > ask || slices.Contains(order[:ask], "SyncOK") {
		t.Fatalf("the decider was not asked beside the sync: %v", order)
	}
}

// TestCoordinatorPreparesItselfAfterTheOthers: the Prepare a coordinator
// sends every other member leaves before it processes its own (Pending,
// Continue), so that processing a decision does not hold theirs back;
// the round installs one epoch everywhere.
func TestCoordinatorPreparesItselfAfterTheOthers(t *testing.T) {
	g := newGroup(t)
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	v := g.members[0].View()
	coord := g.index(v.Members[0])
	processed := false
	sentBefore := map[netip.AddrPort]bool{} // the Prepares sent before the coordinator processed its own
	g.parts[coord].Refuse = func(membership.View) bool {
		processed = true
		return false
	}
	g.tap = func(from, to netip.AddrPort, data []byte) {
		if name, _ := membership.ControlType(data, 42); from == v.Members[0].Addr && name == "Prepare" && !processed {
			sentBefore[to] = true
		}
	}
	g.members[coord].Rekey()
	g.drain(coord)
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	if !processed || len(sentBefore) != len(v.Members)-1 {
		t.Fatalf("the coordinator processed its own Prepare: %v; after the Prepares to %d of the %d others", processed, len(sentBefore), len(v.Members)-1)
	}
}

// TestPendingWorkComesBeforeTheNextInput: a coordinator whose driver
// does not call Continue processes its own Prepare at the start of its
// next input, before that input does anything (here, a tick after a pause,
// counted at once), in the state the Prepare was made in.
func TestPendingWorkComesBeforeTheNextInput(t *testing.T) {
	g := newGroup(t)
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	v := g.members[0].View()
	coord := g.index(v.Members[0])
	m := g.members[coord]
	pauses := func() uint64 {
		for _, c := range m.Counters() {
			if c.Layer == "membership" && c.Name == "own_pauses" {
				return c.Value
			}
		}
		return 0
	}
	processedAfter := -1 // pauses counted when the coordinator processed its own Prepare
	g.parts[coord].Refuse = func(membership.View) bool {
		processedAfter = int(pauses())
		return false
	}
	held, before := false, 0
	g.hold = func(i int) bool {
		if i != coord || held {
			return false
		}
		held, before = true, int(pauses())
		m.Tick(g.now + seamTiming.Suspect)
		g.drain(i)
		return true
	}
	m.Rekey()
	g.drain(coord)
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	if !held || processedAfter != before || int(pauses()) != before+1 {
		t.Fatalf("held %v; the coordinator processed its own Prepare after %d pauses, %d before the tick, %d after", held, processedAfter, before, pauses())
	}
}

func TestRefusedDecisionLeavesTheMemberOut(t *testing.T) {
	g := newGroup(t)
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	v := g.members[0].View()
	refuser := g.index(v.Members[3]) // not the coordinator
	g.parts[refuser].Refuse = func(membership.View) bool { return true }
	g.members[0].Rekey()
	var rest []int
	for i := range 4 {
		if i != refuser {
			rest = append(rest, i)
		}
	}
	g.runUntil(3*time.Second, "a view of 3 without the refusing member", func() bool { return g.converged(rest...) })
	if g.members[rest[0]].View().ID == v.ID {
		t.Fatal("no new view")
	}
	g.sameEpoch(rest...)
	if g.total("members_refused") == 0 || g.total("rounds_restarted") == 0 {
		t.Fatalf("refusal not counted (members_refused %d, rounds_restarted %d)", g.total("members_refused"), g.total("rounds_restarted"))
	}
}

func TestRekeyRoundKeepsMembersAndChangesEpoch(t *testing.T) {
	g := newGroup(t)
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	old := g.sameEpoch(upTo(3)...)
	g.members[2].Rekey()
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(3)...) })
	nv := g.members[0].View()
	if !slices.Equal(nv.Members, v.Members) {
		t.Fatalf("rekey changed the members: %v → %v", v, nv)
	}
	if e := g.sameEpoch(upTo(3)...); e == old {
		t.Fatal("the rekey round kept the epoch")
	}
	if g.total("rekey_rounds") != 1 {
		t.Fatalf("rekey_rounds = %d, want 1", g.total("rekey_rounds"))
	}
}

func TestParticipantStartsRekey(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) { p.RekeyEvery = 100 }
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	g.runUntil(time.Second, "a rekey", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(3)...) })
	if g.total("rekeys_due") == 0 {
		t.Fatal("the participant's rekey was not counted")
	}
	g.sameEpoch(upTo(3)...)
}

// keyProbe is a layer that, as encrypt will, reads the view's key material
// from the stack's configuration.
type keyProbe struct{ port *layers.Port }

var probed = map[uint64][]byte{} // view's wire id → secret the layer read

func (l *keyProbe) Name() string { return "keyprobe" }
func (l *keyProbe) Init(p *layers.Port) {
	l.port = p
	if k, ok := p.Config().Keys.(*membershiptest.Keys); ok {
		probed[p.Config().View.ID] = bytes.Clone(k.Secret())
	}
}
func (l *keyProbe) Up(ev *layers.Event)    { l.port.Up(ev) }
func (l *keyProbe) Down(ev *layers.Event)  { l.port.Down(ev) }
func (l *keyProbe) Tick(now time.Duration) {}

func init() {
	layers.Register(layers.Registration{Name: "keyprobe", Doc: "test: reads Config.Keys",
		New: func(any) (layers.Layer, error) { return &keyProbe{}, nil }})
}

func TestKeysReachTheNewStackAndAreReleased(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, _ *membershiptest.Participant, cfg *membership.Config) {
		cfg.Layers = append([]string{compose.Reliable[0], "keyprobe"}, compose.Reliable[1:]...)
	}
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	got := probed[v.ID.Wire()]
	var want []byte
	for _, k := range g.parts[0].Keys() {
		if k.View == v.ID {
			want = k.Secret()
		}
	}
	if len(want) == 0 || !bytes.Equal(got, want) {
		t.Fatalf("the layer read %x, the participant installed %x", got, want)
	}
	for _, k := range g.parts[0].Keys() {
		if k.View != v.ID && !k.Released() {
			t.Fatalf("keys of ended view %v not released", k.View)
		}
	}
}

func TestLargeDecisionEachMemberGetsOnlyItsPart(t *testing.T) {
	const n = 16
	g := newGroup(t)
	for range n {
		g.add()
	}
	g.runUntil(10*time.Second, "one view of 16", func() bool { return g.converged(upTo(n)...) })
	for _, p := range g.parts {
		p.PartPad = 64 << 10
	}
	clear(g.received)
	v := g.members[0].View()
	g.members[0].Rekey()
	g.runUntil(5*time.Second, "a rekey", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(n)...) })
	g.sameEpoch(upTo(n)...)
	id := g.members[0].View().ID
	total := 0
	for i, p := range g.parts {
		r, ok := p.Received(id)
		if !ok || len(r.Own) != 32+64<<10 {
			t.Fatalf("member %d received a part of %d bytes", i, len(r.Own))
		}
		total += len(r.Own)
	}
	if total < 1<<20 {
		t.Fatalf("the decision was %d bytes, want at least 1 MiB", total)
	}
	// Each member received its own part, not the others': far less than
	// the whole decision (the coordinator's own part never crosses the
	// network).
	for i := 1; i < n; i++ {
		if g.received[i] > 3*(64<<10) {
			t.Fatalf("member %d received %d bytes in the round", i, g.received[i])
		}
	}
}

func TestCoordinatorFailsBetweenPrepareAndInstall(t *testing.T) {
	g := newGroup(t)
	for range 4 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	v := g.members[0].View()
	coord := slices.IndexFunc(g.members, func(m *membership.Member) bool { return m.Self() == v.Members[0] })
	var rest []int
	for i := range g.members {
		if i != coord {
			rest = append(rest, i)
		}
	}
	confirms := func() (n uint64) {
		for _, i := range rest {
			n += g.counter(i, "sent.Confirm")
		}
		return n
	}
	before := confirms()
	g.members[coord].Rekey()
	// The coordinator fails as soon as a member has confirmed: before
	// the confirmations reach it, so before it orders the installation.
	g.runUntil(time.Second, "a member confirms", func() bool { return confirms() > before })
	g.crash(coord)
	for _, i := range rest {
		if g.members[i].View().ID != v.ID {
			t.Fatalf("member %d installed before the coordinator failed", i)
		}
	}
	g.runUntil(3*time.Second, "the survivors in one view", func() bool { return g.converged(rest...) })
	g.sameEpoch(rest...)
	discarded := 0
	for _, i := range rest {
		discarded += g.parts[i].Discarded()
	}
	if discarded == 0 {
		t.Fatal("no member discarded the unfinished decision: the crash came too late to test anything")
	}
}

func TestAdmissionHandshakeLargerThanADatagram(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) { p.HandshakePad = 50 << 10 }
	var handshakes, fragments int
	g.tap = func(from, to netip.AddrPort, data []byte) {
		if len(data) > membership.MaxControlDatagram {
			t.Fatalf("a datagram of %d bytes", len(data))
		}
	}
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	handshakes = int(g.total("sent.Handshake"))
	fragments = int(g.total("sent_fragmented.Handshake"))
	if g.total("admissions_done") < 4 || handshakes < 6 || fragments == 0 || g.total("reassembled") == 0 {
		t.Fatalf("admissions_done %d, handshake messages %d, fragmented %d, reassembled %d: want two admissions of three messages, the first in fragments",
			g.total("admissions_done"), handshakes, fragments, g.total("reassembled"))
	}
	g.sameEpoch(upTo(3)...)
}

// watchBlocked runs the group for d and reports whether any of the members
// listed was ever blocked.
func (g *group) watchBlocked(d time.Duration, idx ...int) bool {
	for end := g.now + d; g.now < end; {
		g.run(time.Millisecond)
		for _, i := range idx {
			if g.members[i].Blocked() {
				return true
			}
		}
	}
	return false
}

func TestRefusedIdentityNeverBlocksTheGroup(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) {
		p.Allow = func(id membership.Identity) bool { return id.Name != "m3" }
	}
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	g.add()
	if g.watchBlocked(time.Second, 0, 1, 2) {
		t.Fatal("the group blocked for a refused joiner")
	}
	if g.members[0].View().ID != v.ID || len(g.members[3].View().Members) != 1 {
		t.Fatalf("the refused joiner got in:%s", g.describe())
	}
	if g.total("admissions_refused") == 0 {
		t.Fatal("no refusal counted")
	}
}

func TestStalledJoinerNeverBlocksTheGroup(t *testing.T) {
	g := newGroup(t)
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	g.add()
	g.runUntil(time.Second, "the joiner's first handshake message", func() bool { return g.counter(3, "sent.Handshake") > 0 })
	g.crash(3)
	if g.watchBlocked(2*time.Second, 0, 1, 2) {
		t.Fatal("the group blocked for a stalled joiner")
	}
	if g.members[0].View().ID != v.ID || g.total("admissions_stalled") == 0 {
		t.Fatalf("view %v → %v, admissions_stalled %d", v.ID, g.members[0].View().ID, g.total("admissions_stalled"))
	}
}

func TestReplayedHandshakeMessagesAreDropped(t *testing.T) {
	g := newGroup(t)
	var captured [][2]any // from, data
	g.tap = func(from, to netip.AddrPort, data []byte) {
		if from == transport.Addr(1) {
			captured = append(captured, [2]any{to, bytes.Clone(data)})
		}
	}
	for range 2 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 2", func() bool { return g.converged(0, 1) })
	g.tap = nil
	v := g.members[0].View()
	dropped := func() uint64 {
		return g.total("drop.handshake") + g.total("drop.handshake_refused") + g.total("drop.stranger.Handshake") +
			g.total("drop.unauthenticated_member.Handshake")
	}
	before := dropped()
	// Everything member 1 sent while joining, again, to whoever got it.
	for _, c := range captured {
		to := c[0].(netip.AddrPort)
		i := int(to.Port()) - 10000
		g.members[i].Receive(transport.Addr(1), c[1].([]byte))
		g.drain(i)
	}
	if g.watchBlocked(time.Second, 0, 1) || g.members[0].View().ID != v.ID {
		t.Fatal("replayed messages started a view change")
	}
	if dropped() == before {
		t.Fatal("no replayed handshake message was counted as dropped")
	}
}

func TestVetoIsKeyedByIdentity(t *testing.T) {
	g := newGroup(t)
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	// A joiner that cannot process decisions is left out and vetoed…
	g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) {
		p.Refuse = func(next membership.View) bool { return len(next.Members) > 1 }
	}
	g.add()
	g.runUntil(2*time.Second, "the joiner left out", func() bool { return g.total("members_refused") > 0 })
	g.crash(3)
	g.runUntil(time.Second, "the group settled", func() bool { return g.converged(0, 1, 2) })
	// …and comes back under the same name, from another address, as a
	// process that would accept: its identity is still refused.
	g.configure = func(i int, p *membershiptest.Participant, cfg *membership.Config) { p.Name = "m3" }
	g.add()
	g.runUntil(2*time.Second, "the identity refused", func() bool { return g.total("admissions_refused") > 0 })
	if g.watchBlocked(time.Second, 0, 1, 2) || len(g.members[4].View().Members) != 1 {
		t.Fatalf("the vetoed identity got in:%s", g.describe())
	}
	if g.members[0].View().ID == v.ID {
		t.Fatal("the first joiner never started a round")
	}
}

func TestPartitionMergeWithParticipant(t *testing.T) {
	g := newGroup(t)
	for range 5 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 5", func() bool { return g.converged(upTo(5)...) })
	a := []netip.AddrPort{transport.Addr(0), transport.Addr(1), transport.Addr(2)}
	b := []netip.AddrPort{transport.Addr(3), transport.Addr(4)}
	g.net.Partition(a, b)
	g.runUntil(5*time.Second, "two views", func() bool { return g.converged(0, 1, 2) && g.converged(3, 4) })
	g.sameEpoch(0, 1, 2)
	g.sameEpoch(3, 4)
	g.net.Heal()
	g.runUntil(5*time.Second, "one view again", func() bool { return g.converged(upTo(5)...) })
	g.sameEpoch(upTo(5)...)
	if g.total("admissions_done") == 0 {
		t.Fatal("the merge ran no admission")
	}
}

// A member that asks to leave and is then left alone in its view (the
// other member crashed before running the leave) just leaves: no view
// without members is proposed or decided (the test participant's Decider
// would index an empty member list).
func TestLoneLeavingMemberJustLeaves(t *testing.T) {
	g := newGroup(t)
	for range 2 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 2", func() bool { return g.converged(upTo(2)...) })
	coord := g.index(g.members[0].View().Members[0])
	other := 1 - coord
	g.crash(coord)
	g.members[other].Leave()
	g.runUntil(3*time.Second, "the leaving member gone", func() bool { return g.members[other].Left() })
	if n := g.counter(other, "leave_timeout"); n != 0 {
		t.Fatalf("the member left only by giving up (leave_timeout %d)", n)
	}
}

// joinerDecider names a joiner the decider whenever there is one.
type joinerDecider struct{ *membershiptest.Participant }

func (p joinerDecider) Decider(cur, next membership.View) membership.Endpoint {
	for _, e := range next.Members {
		if !cur.Has(e) {
			return e
		}
	}
	return next.Members[0]
}

// A joiner is never the decider: it has not been admitted to anything
// the decision could build on. A participant naming one is overruled by
// the coordinator, which decides itself; so a joiner whose DecideReq is
// lost never times out as decider (which once vetoed it for good, and
// the group never formed).
func TestJoinerIsNeverTheDecider(t *testing.T) {
	g := newGroup(t)
	g.configure = func(_ int, p *membershiptest.Participant, cfg *membership.Config) {
		cfg.Participant = joinerDecider{p}
	}
	g.drop = func(_, _ netip.AddrPort, data []byte) bool {
		typ, _ := membership.ControlType(data, 42)
		return typ == "DecideReq"
	}
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	g.sameEpoch(upTo(3)...)
	if n := g.total("decider_timeouts"); n != 0 {
		t.Fatalf("decider_timeouts = %d, want 0", n)
	}
}

// Every packet a member sends carries the destination's rank in its view
// beside the address, or layers.Unranked for an address outside it.
func TestPacketsCarryRankAndAddress(t *testing.T) {
	g := newGroup(t)
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	m := g.members[0]
	v := m.View()
	m.Cast([]byte("hello"))
	m.Flush()
	ranked := 0
	for _, p := range m.Ready().Packets {
		switch {
		case p.To == layers.Unranked:
			if slices.ContainsFunc(v.Members, func(e membership.Endpoint) bool { return e.Addr == p.Addr }) {
				t.Fatalf("packet to member %v unranked", p.Addr)
			}
		case p.To < 0 || p.To >= len(v.Members) || v.Members[p.To].Addr != p.Addr:
			t.Fatalf("packet To %d Addr %v in view %v", p.To, p.Addr, v)
		default:
			ranked++
		}
	}
	if ranked != len(v.Members)-1 {
		t.Fatalf("%d ranked packets for a cast to %d peers", ranked, len(v.Members)-1)
	}
	g.drain(0)
}

// A member that leaves a view of three is not in the next view, so the
// decision never comes to it: it leaves on the coordinator's Install, not
// by giving up after Timing.Stuck.
func TestLeavingMemberLeavesOnTheInstall(t *testing.T) {
	g := newGroup(t)
	for range 3 {
		g.add()
	}
	g.runUntil(3*time.Second, "one view of 3", func() bool { return g.converged(upTo(3)...) })
	v := g.members[0].View()
	leaver := g.index(v.Members[len(v.Members)-1])
	g.members[leaver].Leave()
	start := g.now
	g.runUntil(3*time.Second, "the leaving member gone", func() bool { return g.members[leaver].Left() })
	if n := g.counter(leaver, "leave_timeout"); n != 0 {
		t.Fatalf("the member left only by giving up (leave_timeout %d)", n)
	}
	if took := g.now - start; took >= seamTiming.Stuck {
		t.Fatalf("leaving took %v, as long as giving up (Timing.Stuck %v)", took, seamTiming.Stuck)
	}
}
