package membership

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/transport"
)

// Datagrams an attacker sends: from addresses that are not members
// (strangers), naming addresses that are nobody's (third parties).

// stranger is an endpoint at an address outside the cluster; the harness
// delivers nothing to it, and tests read what was sent to it from c.sent.
func stranger(i int) Endpoint {
	return Endpoint{Addr: transport.Addr(100 + i), Inc: 0x5157}
}

// encodeCtl encodes msg for the cluster's group.
func encodeCtl(t testing.TB, msg ctlMsg) []byte {
	t.Helper()
	b, err := msg.encode(nil, 42)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// inject hands member i a datagram from addr, as the network would.
func (c *cluster) inject(i int, from netip.AddrPort, data []byte) {
	c.members[i].Receive(from, data)
	c.drain(i)
}

// record starts recording every datagram sent.
func (c *cluster) record() *[]sentPacket {
	var sent []sentPacket
	c.sent = &sent
	return &sent
}

// bytesTo sums what was sent to addr, and counts datagrams.
func bytesTo(sent []sentPacket, addr netip.AddrPort) (n, datagrams int) {
	for _, p := range sent {
		if p.to == addr {
			n += p.size
			datagrams++
		}
	}
	return n, datagrams
}

func (c *cluster) anyBlocked() bool {
	for i, m := range c.members {
		if !c.crashed[i] && (m.blocked || m.coord != nil || m.part != nil) {
			return true
		}
	}
	return false
}

func (c *cluster) checkFootprints() {
	c.t.Helper()
	for i, m := range c.members {
		if f, b := m.Footprint(), m.FootprintBound(); f > b {
			c.t.Errorf("member %d: footprint %d over its bound %d", i, f, b)
		}
	}
}

// TestStrangerProbeClaimingLargerView sends every member, from a stranger's
// address, probes claiming a view larger than the group's whose
// coordinator is at a third address. Nobody may block, nothing may go to
// the third address, and each answer must stay within three times the
// probe.
func TestStrangerProbeClaimingLargerView(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	sent := c.record()
	s, third := stranger(0), stranger(1)
	big := Summary{ID: ViewID{LTime: 1 << 40, Coord: third}, Size: MaxMembers, Coord: third}
	for _, typ := range []msgType{mProbe, mProbeReply} {
		probe := encodeCtl(t, ctlMsg{Type: typ, From: s, Summary: big})
		for round := range 20 {
			for i := range c.members {
				before, _ := bytesTo(*sent, s.Addr)
				c.inject(i, s.Addr, probe)
				after, _ := bytesTo(*sent, s.Addr)
				if after-before > amplification*len(probe) {
					t.Fatalf("%v #%d to member %d: %d bytes back for %d", typ, round, i, after-before, len(probe))
				}
			}
			c.run(c.timing.Probe / 2)
			if c.anyBlocked() {
				t.Fatalf("%v #%d: the group blocked: %s", typ, round, c.describe())
			}
		}
	}
	if n, d := bytesTo(*sent, third.Addr); d > 0 {
		t.Fatalf("%d datagrams (%d bytes) sent to the address the probes named", d, n)
	}
	if _, d := bytesTo(*sent, s.Addr); d == 0 {
		t.Fatal("the stranger's probes were never answered: the test did not test the answers")
	}
	if !c.converged(all(3)...) {
		t.Fatalf("the group changed: %s", c.describe())
	}
	for i, m := range c.members {
		if slices.ContainsFunc(m.known.addrs, func(k knownAddr) bool { return k.addr == s.Addr || k.addr == third.Addr }) {
			t.Errorf("member %d keeps the stranger's or the named address in its known list", i)
		}
	}
	c.checkFootprints()
}

// TestMergeRequestsNamingMadeUpJoiners sends the coordinator merge requests
// from a stranger naming joiners at third-party addresses: without a cookie
// each of those addresses fetched itself, none of them may be sent
// anything. A stranger that fetched a cookie for its own address may be
// merged in, but still not bring anyone unproven with it.
func TestMergeRequestsNamingMadeUpJoiners(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	ci := c.index(v.Coordinator().Addr)
	coord := c.members[ci]
	sent := c.record()
	s := stranger(0)
	var fakes []Endpoint
	for k := range 15 {
		fakes = append(fakes, stranger(10+k))
	}
	forged := bytes.Repeat([]byte{0xA5}, cookieLen)
	request := func(from Endpoint, cookie []byte) []byte {
		msg := ctlMsg{Type: mMergeReq, From: from, View: v.ID,
			Proposal: View{ID: ViewID{LTime: 5, Coord: from}, Members: append([]Endpoint{from}, fakes...)}}
		for range msg.Proposal.Members {
			msg.Cookies = append(msg.Cookies, forged)
		}
		msg.Cookies[0] = cookie
		return encodeCtl(t, msg)
	}
	for k := range 16 {
		c.inject(ci, s.Addr, request(s, forged))
		if k%4 == 0 {
			c.run(c.timing.Retry)
		}
	}
	c.run(c.timing.Flush)
	if c.anyBlocked() {
		t.Fatalf("forged merge requests blocked the group: %s", c.describe())
	}
	if got := coord.counters["drop.merge_req_unproven"]; got != 16 {
		t.Errorf("drop.merge_req_unproven = %d, want 16", got)
	}
	// Now the stranger proves its own address, and asks again.
	c.inject(ci, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: Summary{ID: ViewID{LTime: 1, Coord: s}, Size: 1, Coord: s}}))
	cookie := cookieIn(t, *sent, s.Addr)
	c.inject(ci, s.Addr, request(s, cookie))
	c.run(c.timing.Retry)
	if coord.coord == nil || !slices.Contains(coord.coord.joiners, s) {
		t.Fatalf("a proven stranger's merge request started no round with it: %v", coord.coord)
	}
	if len(coord.coord.joiners) != 1 {
		t.Fatalf("joiners %v, want only the proven stranger", coord.coord.joiners)
	}
	c.run(2 * c.timing.Stuck)
	for _, f := range fakes {
		if n, d := bytesTo(*sent, f.Addr); d > 0 {
			t.Fatalf("%d datagrams (%d bytes) sent to the made-up joiner %v", d, n, f)
		}
	}
	if got := coord.counters["merge_members_unproven"]; got != uint64(len(fakes)) {
		t.Errorf("merge_members_unproven = %d, want %d", got, len(fakes))
	}
	c.runUntil(2*time.Second, "the group back together", func() bool { return c.converged(all(3)...) })
	c.checkFootprints()
}

// cookieIn finds, in what was sent to addr, the last answer to a probe,
// and returns the cookie it carries for addr.
func cookieIn(t *testing.T, sent []sentPacket, addr netip.AddrPort) []byte {
	t.Helper()
	for _, p := range slices.Backward(sent) {
		if p.to != addr {
			continue
		}
		msg, err := decodeCtl(p.data, 42)
		if err == nil && (msg.Type == mProbe || msg.Type == mProbeReply) && len(msg.Cookie) == cookieLen {
			return msg.Cookie
		}
	}
	t.Fatalf("no cookie was sent to %v", addr)
	return nil
}

// TestMergeOnlyAfterCookieRoundTrip checks the absorbing side of a merge:
// a merge request is acted on only with a cookie the coordinator issued
// to the requester's own address, and not expired.
func TestMergeOnlyAfterCookieRoundTrip(t *testing.T) {
	c := newCluster(t, 2, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 2", func() bool { return c.converged(all(2)...) })
	v := c.members[0].view
	ci := c.index(v.Coordinator().Addr)
	coord := c.members[ci]
	sent := c.record()
	s, other := stranger(0), stranger(1)
	ask := func(from Endpoint, cookie []byte) {
		msg := ctlMsg{Type: mMergeReq, From: from, View: v.ID,
			Proposal: View{ID: ViewID{LTime: 3, Coord: from}, Members: []Endpoint{from}}, Cookies: [][]byte{cookie}}
		c.inject(ci, from.Addr, encodeCtl(t, msg))
	}
	flushed := func(e Endpoint) bool {
		for _, p := range *sent {
			if msg, err := decodeCtl(p.data, 42); err == nil && p.to == e.Addr && msg.Type == mFlush {
				return true
			}
		}
		return false
	}

	// A cookie this coordinator never issued.
	ask(s, bytes.Repeat([]byte{1}, cookieLen))
	// A cookie issued to another address, presented by s.
	c.inject(ci, other.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: other, Summary: Summary{ID: ViewID{LTime: 1, Coord: other}, Size: 1, Coord: other}}))
	ask(s, cookieIn(t, *sent, other.Addr))
	// A cookie issued to s, presented from another address.
	probe := encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: Summary{ID: ViewID{LTime: 1, Coord: s}, Size: 1, Coord: s}})
	c.inject(ci, s.Addr, probe)
	mine := cookieIn(t, *sent, s.Addr)
	ask(other, mine)
	c.run(c.timing.Retry)
	if coord.coord != nil || flushed(s) || flushed(other) {
		t.Fatalf("a merge started without a valid cookie: round %v", coord.coord)
	}
	if got := coord.counters["drop.merge_req_unproven"]; got != 3 {
		t.Fatalf("drop.merge_req_unproven = %d, want 3", got)
	}

	// An expired cookie: issued, then held for two cookie buckets.
	for i := range c.members {
		c.members[i].fd.hearAll(c.now + 2*CookieBucket) // the jump is no silence
	}
	c.now += 2 * CookieBucket
	for i := range c.members {
		c.members[i].Tick(c.now)
		c.drain(i)
	}
	c.run(c.timing.Retry)
	ask(s, mine)
	c.run(c.timing.Retry)
	if coord.coord != nil || flushed(s) {
		t.Fatalf("a merge started with an expired cookie: round %v", coord.coord)
	}

	// The round trip done properly: a fresh cookie, from s's address.
	c.inject(ci, s.Addr, probe)
	ask(s, cookieIn(t, *sent, s.Addr))
	if coord.coord == nil || !slices.Contains(coord.coord.joiners, s) || !flushed(s) {
		t.Fatalf("a proven merge request started no round with its sender: %v", coord.coord)
	}
}

func TestCookieJar(t *testing.T) {
	j := newCookieJar(strings.NewReader(strings.Repeat("secret randomness, not secret here", 10)), 42)
	a := netip.MustParseAddrPort("192.0.2.1:7000")
	b := netip.MustParseAddrPort("192.0.2.1:7001")
	now := 3 * CookieBucket / 2
	ck := j.issue(nil, a, now)
	if len(ck) != cookieLen {
		t.Fatalf("cookie of %d bytes", len(ck))
	}
	for _, tc := range []struct {
		name   string
		cookie []byte
		addr   netip.AddrPort
		at     time.Duration
		want   bool
	}{
		{"fresh", ck, a, now, true},
		{"end of the next bucket", ck, a, 3*CookieBucket - 1, true},
		{"after the next bucket", ck, a, 3 * CookieBucket, false},
		{"other port", ck, b, now, false},
		{"flipped bit", append([]byte{ck[0]}, append([]byte{ck[1] ^ 1}, ck[2:]...)...), a, now, false},
		{"short", ck[:cookieLen-1], a, now, false},
		{"other bucket byte", append([]byte{ck[0] + 1}, ck[1:]...), a, now, false},
	} {
		// A fresh jar per case, since checking a late time rotates the
		// secrets for good.
		j2 := newCookieJar(strings.NewReader(strings.Repeat("secret randomness, not secret here", 10)), 42)
		j2.issue(nil, a, now)
		if got := j2.verify(tc.cookie, tc.addr, tc.at); got != tc.want {
			t.Errorf("%s: verify = %v, want %v", tc.name, got, tc.want)
		}
	}
	other := newCookieJar(strings.NewReader(strings.Repeat("another member's secrets........", 10)), 42)
	if other.verify(ck, a, now) {
		t.Error("another member's jar accepted the cookie")
	}
}

// TestJunkFromCrashedMemberAddress keeps sending, from a crashed member's
// address, datagrams that do not parse: they must not count as signs of
// life, so the member is still removed.
func TestJunkFromCrashedMemberAddress(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	before := c.members[0].view.ID
	dead := c.members[2].self
	// A datagram the member sent in this view, its body spoiled after
	// the bottom header: it parses as far as the header, no further.
	sent := c.record()
	c.members[2].Cast([]byte("last words"))
	c.members[2].Flush()
	c.drain(2)
	var spoiled []byte
	for _, p := range *sent {
		if h, err := bottom.Parse(p.data); err == nil && p.from == dead.Addr {
			spoiled = slices.Clone(p.data)
			for k := h.Len; k < len(spoiled); k++ {
				spoiled[k] = 0xff
			}
			break
		}
	}
	if spoiled == nil {
		t.Fatal("the member sent no stack datagram")
	}
	c.sent = nil
	c.crash(2)
	junk := [][]byte{
		spoiled,
		{1},                          // a stack datagram's version, and nothing else
		{1, 0xff, 0xff, 0xff},        // a truncated stack header
		{Magic, 0, 0, 0, 0, 0, 0, 0}, // a truncated control header
		encodeCtl(t, ctlMsg{Type: mLeave, From: dead})[:20],
		bytes.Repeat([]byte{0x77}, 300),
	}
	for k := 0; !c.converged(0, 1) || c.members[0].view.ID == before; k++ {
		if k > 1000 {
			t.Fatalf("after %d junk datagrams the survivors still have not removed the dead member: %s", k, c.describe())
		}
		for i := range 2 {
			c.inject(i, dead.Addr, junk[k%len(junk)])
		}
		c.run(2 * time.Millisecond)
	}
	if c.members[0].view.Has(dead) {
		t.Fatalf("the dead member is still in %v", c.members[0].view)
	}
}

// TestKnownListBoundedAndForgets checks the addresses a member probes:
// strangers' probes add none, what is learnt stays under its bound, and
// addresses not heard from are forgotten while seeds stay.
func TestKnownListBoundedAndForgets(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.timing.Forget = time.Second
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	m := c.members[2] // seeds: members 0 and 1
	known := len(m.known.addrs)
	for k := range 2000 {
		s := Endpoint{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 9, byte(k >> 8), byte(k)}), 7000), Inc: 1}
		c.inject(2, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: Summary{ID: ViewID{LTime: 1, Coord: s}, Size: 1, Coord: s}}))
	}
	if got := len(m.known.addrs); got != known {
		t.Fatalf("strangers' probes grew the known list from %d to %d", known, got)
	}
	for k := range 3 * maxKnown {
		m.learn(netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 8, byte(k >> 8), byte(k)}), 7000), knownNamed)
	}
	if got := len(m.known.addrs); got > maxKnown+2 {
		t.Fatalf("the known list holds %d addresses, over its bound %d (and 2 seeds)", got, maxKnown+2)
	}
	c.checkFootprints()
	c.run(c.timing.Forget + c.timing.Probe)
	var left []netip.AddrPort
	for _, k := range m.known.addrs {
		left = append(left, k.addr)
	}
	slices.SortFunc(left, netip.AddrPort.Compare)
	want := []netip.AddrPort{transport.Addr(0), transport.Addr(1)} // seeds, and members too
	if !slices.Equal(left, want) {
		t.Fatalf("after %v the known list holds %v, want the seeds %v", c.timing.Forget, left, want)
	}
	c.crash(0)
	c.runUntil(time.Second, "member 0 removed", func() bool { return c.converged(1, 2) })
	if !slices.ContainsFunc(m.known.addrs, func(k knownAddr) bool { return k.addr == transport.Addr(0) }) {
		t.Fatal("a seed was forgotten")
	}
	// Member 1 learnt member 2's address (not a seed of its) when they
	// formed the view, longer than Timing.Forget ago: cut off now, it is
	// still probed for Timing.Forget.
	c.run(c.timing.Forget + c.timing.Probe)
	c.crash(2)
	c.runUntil(time.Second, "member 2 removed", func() bool { return len(c.members[1].view.Members) == 1 })
	c.run(c.timing.Probe)
	if !slices.ContainsFunc(c.members[1].known.addrs, func(k knownAddr) bool { return k.addr == transport.Addr(2) }) {
		t.Fatal("a member cut off from the view was forgotten at once")
	}
	c.run(c.timing.Forget + c.timing.Probe)
	if slices.ContainsFunc(c.members[1].known.addrs, func(k knownAddr) bool { return k.addr == transport.Addr(2) }) {
		t.Fatal("a member cut off from the view was never forgotten")
	}
}

// oversize decides a common part larger than MaxDecisionPart the first
// time it decides for more than one member, and a small one afterwards.
type oversize struct {
	plain
	big bool // the oversize result was returned
}

func (o *oversize) Decide(_, next View, _ map[Endpoint][]byte, _ map[Endpoint]Identity) (Decision, error) {
	if len(next.Members) > 1 && !o.big {
		o.big = true
		return Decision{Common: make([]byte, MaxDecisionPart+1)}, nil
	}
	return Decision{Common: []byte("ok")}, nil
}

// TestOversizeDecisionFailsVisibly has a participant decide more than an
// Install can carry: the round must fail, loudly and counted, rather than
// send what every member would refuse, and the group must still form.
func TestOversizeDecisionFailsVisibly(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) {
		cfg.Participant = &oversize{}
		cfg.Logger = logger
	}
	for range 3 {
		c.add()
	}
	sent := c.record()
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	oversized := uint64(0)
	for _, m := range c.members {
		oversized += m.counters["decide_oversize"]
	}
	if oversized == 0 {
		t.Fatal("no oversize decision was counted")
	}
	if !strings.Contains(log.String(), "decision is out of bounds") {
		t.Fatalf("no warning logged; log:\n%s", log.String())
	}
	for _, p := range *sent {
		if p.size > MaxControlDatagram {
			t.Fatalf("a datagram of %d bytes was sent", p.size)
		}
	}
}

// TestStrangerFlushDoesNotCaptureLoneMember sends a lone member a Flush
// from a stranger it never asked to be absorbed by: it must not block.
func TestStrangerFlushDoesNotCaptureLoneMember(t *testing.T) {
	c := newCluster(t, 1, transport.Faults{})
	c.run(c.timing.Probe)
	m := c.members[0]
	s := stranger(0)
	next := View{ID: ViewID{LTime: 50, Coord: s}, Members: []Endpoint{s, m.self}}
	c.inject(0, s.Addr, encodeCtl(t, ctlMsg{Type: mFlush, From: s, View: ViewID{LTime: 49, Coord: s}, Proposal: next, Survivors: []Endpoint{s}}))
	if m.blocked || m.part != nil {
		t.Fatalf("a stranger's Flush blocked a lone member")
	}
	for _, typ := range []msgType{mSync, mInstall, mSuspect, mLeave, mWait, mFlushOK} {
		c.inject(0, s.Addr, encodeCtl(t, ctlMsg{Type: typ, From: s, Round: next.ID, View: next.ID, Suspects: []Endpoint{m.self}}))
	}
	var dropped []string
	for name, v := range m.counters {
		if strings.HasPrefix(name, "drop.stranger.") {
			dropped = append(dropped, fmt.Sprintf("%s=%d", name, v))
		}
	}
	if len(dropped) != 7 {
		t.Fatalf("dropped and counted: %v, want one each of 7 types", dropped)
	}
}

// TestAmplificationBudget checks the budget for answers to a stranger:
// three times what it sent, to its address only.
func TestAmplificationBudget(t *testing.T) {
	s, other := stranger(0).Addr, stranger(1).Addr
	in := inbound{from: s, budget: amplification * 50, active: true}
	if !in.allow(s, 100) || !in.allow(s, 50) {
		t.Fatal("answers within three times 50 bytes refused")
	}
	if in.allow(s, 1) {
		t.Fatal("an answer past three times 50 bytes allowed")
	}
	if !in.allow(other, 1000) {
		t.Fatal("the budget applied to another address")
	}
	idle := inbound{}
	if !idle.allow(s, 1000) {
		t.Fatal("the budget applied with no stranger's datagram being handled")
	}
}

// TestMergeCarriesEveryMembersCookie heals a partition: the smaller side's
// members each fetch a cookie from the larger side's coordinator, and its
// coordinator's MergeReq carries them all, so that the whole side comes in
// in one view change.
func TestMergeCarriesEveryMembersCookie(t *testing.T) {
	c := newCluster(t, 5, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 5", func() bool { return c.converged(all(5)...) })
	var a, b []netip.AddrPort
	for i, m := range c.members {
		if i < 3 {
			a = append(a, m.self.Addr)
		} else {
			b = append(b, m.self.Addr)
		}
	}
	c.net.Partition(a, b)
	c.runUntil(2*time.Second, "two sides", func() bool { return c.converged(0, 1, 2) && c.converged(3, 4) })
	sent := c.record()
	c.net.Heal()
	c.runUntil(3*time.Second, "merged", func() bool { return c.converged(all(5)...) })
	var reqs []ctlMsg
	for _, p := range *sent {
		if msg, err := decodeCtl(p.data, 42); err == nil && msg.Type == mMergeReq {
			reqs = append(reqs, msg)
		}
	}
	if len(reqs) == 0 {
		t.Fatal("no MergeReq was sent")
	}
	if got := len(reqs[0].Proposal.Members); got != 2 {
		t.Fatalf("the first MergeReq names %d members, want both of the smaller side", got)
	}
	for i, m := range c.members {
		for _, name := range []string{"went_alone", "dismissed", "merge_members_unproven", "drop.merge_req_unproven", "merge_timeout"} {
			if n := m.counters[name]; n != 0 {
				t.Errorf("member %d: %s = %d", i, name, n)
			}
		}
	}
}

// FuzzReceive hands a formed group's members one datagram from a member's
// address or a stranger's, and checks that nothing breaks: no panic, state
// within its bound, and toward a stranger no more than three times what it
// sent, nothing to any other address outside the group, and no blocking.
func FuzzReceive(f *testing.F) {
	s := stranger(0)
	v := View{ID: ViewID{LTime: 9, Coord: s}, Members: []Endpoint{s}}
	big := Summary{ID: ViewID{LTime: 1 << 40, Coord: stranger(1)}, Size: MaxMembers, Coord: stranger(1)}
	ck := bytes.Repeat([]byte{3}, cookieLen)
	for _, msg := range []ctlMsg{
		{Type: mProbe, From: s, Summary: big, Cookie: ck},
		{Type: mProbeReply, From: s, Summary: big, Echo: ck},
		{Type: mMergeReq, From: s, View: v.ID, Proposal: v, Cookies: [][]byte{ck}},
		{Type: mFlush, From: s, View: v.ID, Proposal: v, Survivors: []Endpoint{s}},
		{Type: mFlushOK, From: s, Round: v.ID, Vector: []uint64{1, 2, 3}},
		{Type: mSync, From: s, Round: v.ID, Vector: []uint64{1 << 63, 0, 0}, Holders: []uint64{0, 1, 2}, Summary: big},
		{Type: mInstall, From: s, Round: v.ID, Data: []byte("x")},
		{Type: mSuspect, From: s, View: v.ID, Suspects: []Endpoint{s}},
		{Type: mLeave, From: s, View: v.ID},
		{Type: mWait, From: s, Round: v.ID},
	} {
		b, err := msg.encode(nil, 42)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(byte(200), b) // from the stranger
	}
	for _, b := range hostileSeeds() {
		f.Add(byte(0), b)
	}
	f.Add(byte(0), []byte{1, 0, 0, 0, 0, 0, 0, 0, 42})
	f.Fuzz(func(t *testing.T, source byte, data []byte) {
		c := newCluster(t, 3, transport.Faults{})
		c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
		sent := c.record()
		from, strange := c.members[int(source)%3].self.Addr, source >= 128
		if strange {
			from = s.Addr
		}
		for i := range c.members {
			c.inject(i, from, slices.Clone(data))
		}
		if strange {
			if n, _ := bytesTo(*sent, s.Addr); n > amplification*len(data)*len(c.members) {
				t.Fatalf("%d bytes sent to the stranger for %d-byte datagrams", n, len(data))
			}
		}
		c.run(c.timing.Suspect)
		for _, p := range *sent {
			if c.index(p.to) >= len(c.members) && p.to != s.Addr {
				t.Fatalf("a datagram went to %v, outside the group", p.to)
			}
		}
		if strange && c.anyBlocked() {
			t.Fatalf("a stranger's datagram blocked the group: %s", c.describe())
		}
		c.checkFootprints()
	})
}

// proveStranger has stranger s probe member i and returns the cookie the
// member gave it: what s echoes to prove its address, or presents to be
// merged in.
func (c *cluster) proveStranger(t *testing.T, i int, s Endpoint, sent *[]sentPacket) []byte {
	t.Helper()
	c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: Summary{ID: ViewID{LTime: 1, Coord: s}, Size: 1, Coord: s}}))
	return cookieIn(t, *sent, s.Addr)
}

// TestLogicalTimesBounded checks that nobody can push a member's logical
// time towards 2^64−1, where the next view id would wrap around: not on
// the wire, not by a merge from a stranger, not by a Flush in a member's
// name; while a process that starts still joins a group whose logical
// time is far beyond its own.
func TestLogicalTimesBounded(t *testing.T) {
	s := stranger(0)
	last := ctlMsg{Type: mMergeReq, From: s, View: ViewID{LTime: 1, Coord: s},
		Proposal: View{ID: ViewID{LTime: MaxLTime, Coord: s}, Members: []Endpoint{s}}, Cookies: [][]byte{make([]byte, cookieLen)}}
	b := encodeCtl(t, last)
	last.Proposal.ID.LTime = MaxLTime + 1
	if _, err := last.encode(nil, 42); err == nil {
		t.Fatal("a view id beyond MaxLTime encoded")
	}
	// The same datagram with the logical time 2^64−1 (a 10-byte varint
	// in place of MaxLTime's 9 bytes).
	i := bytes.Index(b, binary.AppendUvarint(nil, MaxLTime))
	wrapped := slices.Concat(b[:i], binary.AppendUvarint(nil, math.MaxUint64), b[i+len(binary.AppendUvarint(nil, MaxLTime)):])
	if _, err := decodeCtl(wrapped, 42); err == nil {
		t.Fatal("a view id at 2^64-1 decoded")
	}

	c := newCluster(t, 2, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 2", func() bool { return c.converged(all(2)...) })
	v := c.members[0].view
	ci := c.index(v.Coordinator().Addr)
	coord := c.members[ci]
	sent := c.record()
	cookie := c.proveStranger(t, ci, s, sent)
	for _, lt := range []uint64{coord.maxLTime + maxLTimeJump + 1, MaxLTime} {
		c.inject(ci, s.Addr, encodeCtl(t, ctlMsg{Type: mMergeReq, From: s, View: v.ID,
			Proposal: View{ID: ViewID{LTime: lt, Coord: s}, Members: []Endpoint{s}}, Cookies: [][]byte{cookie}}))
	}
	if coord.coord != nil || coord.counters["drop.merge_req_ltime"] != 2 {
		t.Fatalf("merge requests far ahead: round %v, drop.merge_req_ltime = %d", coord.coord, coord.counters["drop.merge_req_ltime"])
	}
	// A Flush in the coordinator's name, far ahead.
	other := c.members[1-ci]
	far := View{ID: ViewID{LTime: other.maxLTime + maxLTimeJump + 1, Coord: coord.self}, Members: v.Members}
	c.inject(1-ci, coord.self.Addr, encodeCtl(t, ctlMsg{Type: mFlush, From: coord.self, View: v.ID, Proposal: far, Survivors: v.Members}))
	if other.part != nil || other.maxLTime >= far.ID.LTime {
		t.Fatalf("a member took part in a view change at logical time %d", far.ID.LTime)
	}

	// The group's logical time is now far beyond a starting process's.
	for _, m := range c.members {
		m.maxLTime += 2 * maxLTimeJump
	}
	joiner := c.add()
	c.runUntil(2*time.Second, "the joiner in", func() bool { return c.converged(all(3)...) })
	if joiner.view.ID.LTime < 2*maxLTimeJump {
		t.Fatalf("joined view %v", joiner.view.ID)
	}
}

// TestProvenStrangerNamesNoCoordinator has a stranger prove its address,
// then name a coordinator at a third address: that address must never be
// probed, as a seed or a member could have it probed.
func TestProvenStrangerNamesNoCoordinator(t *testing.T) {
	c := newCluster(t, 2, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 2", func() bool { return c.converged(all(2)...) })
	sent := c.record()
	s, third := stranger(0), stranger(1)
	for i := range c.members {
		cookie := c.proveStranger(t, i, s, sent)
		for _, typ := range []msgType{mProbe, mProbeReply} {
			c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: typ, From: s, Echo: cookie,
				Summary: Summary{ID: ViewID{LTime: 7, Coord: third}, Size: 1, Coord: third}}))
		}
	}
	c.run(10 * c.timing.Probe)
	if n, d := bytesTo(*sent, third.Addr); d > 0 {
		t.Fatalf("%d datagrams (%d bytes) sent to the coordinator a stranger named", d, n)
	}
	for i, m := range c.members {
		if m.known.has(third.Addr) || m.known.has(s.Addr) {
			t.Errorf("member %d learnt the stranger's or the named address", i)
		}
	}
	if !c.converged(all(2)...) {
		t.Fatalf("the group changed: %s", c.describe())
	}
}

// TestSilentJoinerShunned has a stranger prove its address, ask to be
// merged in, and then answer nothing: after the round that waited for it,
// its requests are ignored for Timing.Merge, then for twice that.
func TestSilentJoinerShunned(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	ci := c.index(v.Coordinator().Addr)
	coord := c.members[ci]
	sent := c.record()
	s := stranger(0)
	ask := func() {
		cookie := c.proveStranger(t, ci, s, sent)
		c.inject(ci, s.Addr, encodeCtl(t, ctlMsg{Type: mMergeReq, From: s, View: coord.view.ID,
			Proposal: View{ID: ViewID{LTime: 3, Coord: s}, Members: []Endpoint{s}}, Cookies: [][]byte{cookie}}))
	}
	rounds := func() uint64 { return coord.counters["rounds_started"] }
	ban := c.timing.Merge
	for strike := 1; strike <= 2; strike++ {
		before := rounds()
		ask()
		if rounds() != before+1 {
			t.Fatalf("strike %d: the proven stranger's request started no round", strike)
		}
		c.runUntil(2*c.timing.Flush, "the silent joiner dropped", func() bool { return c.converged(all(3)...) })
		start, before := c.now, rounds()
		for c.now-start < ban-c.timing.Retry {
			ask()
			c.run(c.timing.Retry)
		}
		if rounds() != before || coord.counters["drop.merge_req_shunned"] == 0 {
			t.Fatalf("strike %d: %d rounds started for a shunned joiner within %v", strike, rounds()-before, ban)
		}
		c.run(c.timing.Retry)
		ban *= 2
	}
	c.checkFootprints()
}

// TestProvenJoinerNotThrottled has a lone process join a group of 16: the
// Flush that takes it in is far larger than its MergeReq, which is no
// amplification once the MergeReq's cookie has proven its address.
func TestProvenJoinerNotThrottled(t *testing.T) {
	c := newCluster(t, 16, transport.Faults{})
	c.runUntil(5*time.Second, "one view of 16", func() bool { return c.converged(all(16)...) })
	c.run(c.timing.Suspect)
	names := []string{"drop.amplification", "rounds_restarted", "joiner_timeouts"}
	before := make([]map[string]uint64, len(c.members))
	for i, m := range c.members {
		before[i] = map[string]uint64{}
		for _, name := range names {
			before[i][name] = m.counters[name]
		}
	}
	c.add()
	c.runUntil(time.Second, "the joiner in", func() bool { return c.converged(all(17)...) })
	for i, m := range c.members[:16] {
		for _, name := range names {
			if n := m.counters[name] - before[i][name]; n != 0 {
				t.Errorf("member %d: %s went up by %d", i, name, n)
			}
		}
	}
}
