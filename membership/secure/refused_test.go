package secure

import (
	"encoding/binary"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// A joiner whose identity the group's coordinator refuses, once their
// handshake is done, is told so, sealed under the handshake's secret: the
// identity the coordinator authenticated and the admission check's error.
// It stops waiting at once (no merge timeout), shuns the coordinator, and
// learns nothing else; the coordinator sends one Refused per attempt, and
// the group never blocks.
func TestRefusedJoinerToldWhy(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	before := make([]int, 3)
	for i := range before {
		before[i] = len(c.events[i])
	}
	s := c.add(false)
	stranger := c.members[s]
	c.runUntil(2*time.Second, "a refusal", func() bool { _, ok := stranger.LastRefusal(); return ok })
	r, _ := stranger.LastRefusal()
	coord := c.members[0].View().Members[0]
	if r.Coordinator != coord {
		t.Fatalf("refused by %v, not the coordinator %v", r.Coordinator, coord)
	}
	if want := memberIdentity(c.parts[s].Identity()); r.Identity != want {
		t.Fatalf("the refusal names %v, not the stranger's identity %v", r.Identity, want)
	}
	if want := memberIdentity(c.parts[c.index(coord.Addr)].Identity()); r.CoordinatorIdentity != want {
		t.Fatalf("the refusal's coordinator is %v, not %v", r.CoordinatorIdentity, want)
	}
	if !strings.Contains(r.Reason, "not on the list") || len(r.Reason) > membership.MaxRefusalReason {
		t.Fatalf("the reason given is %q", r.Reason)
	}
	// It waits no more: its merge round ended with the refusal.
	if stranger.Blocked() {
		t.Fatal("the refused stranger still waits to be absorbed")
	}
	// Within the shun (Timing.Merge) it asks nothing more of the
	// coordinator, and never waited out a merge.
	c.run(c.timing.Merge * 3 / 4)
	if n := c.counter(s, "merge_timeout"); n != 0 {
		t.Fatalf("the refused stranger waited for the merge to time out %d times", n)
	}
	if n := c.counter(s, "merges_deferred"); n == 0 {
		t.Fatal("the stranger did not defer merging with the coordinator that refused it")
	}
	if v := stranger.View(); len(v.Members) != 1 {
		t.Fatalf("the stranger is in %v", v)
	}
	if n := c.counter(s, "admissions_refused_by_peer"); n == 0 {
		t.Fatal("the refusal was not counted")
	}
	ci := c.index(coord.Addr)
	sent, refused := c.counter(ci, "sent.Refused"), c.counter(ci, "admissions_refused")
	if sent == 0 || sent > refused {
		t.Fatalf("the coordinator sent %d Refused for %d refusals", sent, refused)
	}
	for id := range c.parts[s].commons {
		if id.Coord != stranger.Self() {
			t.Fatalf("the stranger processed a decision of view %v", id)
		}
	}
	for i := range 3 {
		for _, ev := range c.events[i][before[i]:] {
			if ev.Kind == membership.Block || ev.Kind == membership.ViewChange {
				t.Fatalf("member %d: %v for a refused stranger", i, ev.Kind)
			}
		}
	}
}

// A Refused counts only opened under the sealing of the handshake it
// ends: the genuine one tampered with, and its message sent unsealed in
// the coordinator's name, are dropped and counted; the genuine one then
// acts, once, and its replay is dropped.
func TestForgedRefusedDropped(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	coord := c.members[0].View().Members[0]
	var genuine []byte
	c.onSend = func(from int, to netip.AddrPort, data []byte) [][]byte {
		if name, _ := membership.ControlType(data, 42); name == "Refused" && genuine == nil {
			genuine = slices.Clone(data)
			tampered := slices.Clone(data)
			tampered[len(tampered)-1] ^= 1
			return [][]byte{tampered}
		}
		return [][]byte{data}
	}
	s := c.add(false)
	stranger := c.members[s]
	c.runUntil(2*time.Second, "a Refused", func() bool { return genuine != nil })
	c.run(5 * time.Millisecond)
	if n := c.counter(s, "drop.forged_control"); n == 0 {
		t.Fatal("the tampered Refused was not counted as forged")
	}
	// The message inside the envelope, unsealed: after the header
	// (magic, group, type, an IPv4 endpoint, the view's wire id), the
	// rank, the sequence number and the inner message's length.
	rest := genuine[1+8+1+11+8:]
	for range 2 {
		_, n := binary.Uvarint(rest)
		rest = rest[n:]
	}
	l, n := binary.Uvarint(rest)
	inner := rest[n : n+int(l)]
	if name, _ := membership.ControlType(inner, 42); name != "Refused" {
		t.Fatalf("the inner message is a %q", name)
	}
	c.net.Send(c.now, coord.Addr, stranger.Self().Addr, inner)
	c.run(5 * time.Millisecond)
	if _, ok := stranger.LastRefusal(); ok || c.counter(s, "admissions_refused_by_peer") != 0 {
		t.Fatal("a forged Refused acted")
	}
	if c.counter(s, "unauthenticated.Refused")+c.counter(s, "drop.stranger.Refused") == 0 {
		t.Fatal("the unsealed Refused was not counted")
	}
	c.net.Send(c.now, coord.Addr, stranger.Self().Addr, genuine)
	c.run(5 * time.Millisecond)
	if r, ok := stranger.LastRefusal(); !ok || r.Coordinator != coord {
		t.Fatal("the genuine Refused, after the forged ones, did not act")
	}
	c.net.Send(c.now, coord.Addr, stranger.Self().Addr, genuine)
	c.run(5 * time.Millisecond)
	if n := c.counter(s, "admissions_refused_by_peer"); n != 1 {
		t.Fatalf("a replayed Refused acted: %d refusals", n)
	}
}

// A joiner that refuses the coordinator's identity sends it nothing more
// once its handshake tells it who the coordinator is: not the last
// handshake message, which carries its roster, nor a merge request; it
// does not wait out its merge, and the coordinator, left with a stalled
// attempt, holds no roster of it and never blocks.
func TestJoinerRefusesCoordinator(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	before := make([]int, 3)
	for i := range before {
		before[i] = len(c.events[i])
	}
	c.deny[3] = map[string]bool{}
	for i := range 3 {
		c.deny[3][c.parts[i].Identity().Name] = true
	}
	x := 3
	var handshakes int
	var after []string
	c.onSend = func(from int, to netip.AddrPort, data []byte) [][]byte {
		if from == x && c.index(to) < 3 {
			name, _ := membership.ControlType(data, 42)
			switch {
			case c.counter(x, "admissions_refused") == 0:
				if name == "Handshake" {
					handshakes++
				}
			case name != "Probe" && name != "ProbeReply":
				after = append(after, name)
			}
		}
		return [][]byte{data}
	}
	c.add(true)
	joiner := c.members[x]
	c.runUntil(2*time.Second, "the joiner's refusal", func() bool { return c.counter(x, "admissions_refused") > 0 })
	if joiner.Blocked() {
		t.Fatal("the joiner still waits to be absorbed by a coordinator it refused")
	}
	c.run(c.timing.Merge * 3 / 4)
	if handshakes == 0 {
		t.Fatal("the joiner never began a handshake")
	}
	if len(after) > 0 {
		t.Fatalf("after refusing the coordinator the joiner sent it %v", after)
	}
	if n := c.counter(x, "merge_timeout"); n != 0 {
		t.Fatalf("the joiner waited out %d merges", n)
	}
	coord := c.members[0].View().Members[0]
	ci := c.index(coord.Addr)
	xb, _ := endpointBytes(joiner.Self())
	p := c.parts[ci].Participant
	p.mu.Lock()
	_, kept := p.rosters.entry(xb)
	p.mu.Unlock()
	if kept {
		t.Fatal("the coordinator holds the roster of a joiner that refused it")
	}
	if c.counter(ci, "admissions_stalled") == 0 || c.counter(ci, "sent.Refused") != 0 {
		t.Fatal("the coordinator's attempt with a joiner that refused it did not stall")
	}
	if v := joiner.View(); len(v.Members) != 1 {
		t.Fatalf("the joiner is in %v", v)
	}
	for i := range 3 {
		for _, ev := range c.events[i][before[i]:] {
			if ev.Kind == membership.Block || ev.Kind == membership.ViewChange {
				t.Fatalf("member %d: %v for a joiner that refused the group", i, ev.Kind)
			}
		}
	}
}

// A coordinator of more than itself that the absorbing coordinator
// refuses after their handshake has begun to flush its view by the time
// the Refused comes: its view waits no longer for the merge (not
// Timing.Merge), and the absorbing view never blocks.
func TestRefusedCoordinatorStopsWaiting(t *testing.T) {
	c := newCluster(t)
	c.net.Partition([]netip.AddrPort{transport.Addr(0), transport.Addr(1)}, []netip.AddrPort{transport.Addr(2), transport.Addr(3), transport.Addr(4)})
	for range 5 {
		c.add(true)
	}
	c.runUntil(5*time.Second, "two groups", func() bool { return c.converged(0, 1) && c.converged(2, 3, 4) })
	for _, j := range []int{2, 3, 4} {
		c.deny[j] = map[string]bool{c.parts[0].Identity().Name: true, c.parts[1].Identity().Name: true}
	}
	c.net.Heal()
	var blocked [5]time.Duration
	for end := c.now + c.timing.Merge*2; c.now < end; {
		c.run(time.Millisecond)
		for i := range 5 {
			if c.members[i].Blocked() {
				blocked[i] += time.Millisecond
			}
		}
	}
	a := c.index(c.members[0].View().Members[0].Addr)
	if _, ok := c.members[a].LastRefusal(); !ok {
		t.Fatal("the absorbed view's coordinator was not told of its refusal")
	}
	for i := range 5 {
		if blocked[i] >= c.timing.Merge/2 || c.counter(i, "merge_timeout") != 0 {
			t.Errorf("member %d blocked for %v (merge timeouts %d)", i, blocked[i], c.counter(i, "merge_timeout"))
		}
	}
	for _, i := range []int{2, 3, 4} {
		if blocked[i] != 0 {
			t.Errorf("member %d of the absorbing view blocked", i)
		}
	}
	if !c.converged(0, 1) || !c.converged(2, 3, 4) {
		t.Fatalf("the two views did not stay apart and whole:%s", c.describe())
	}
}
