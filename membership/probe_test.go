package membership

import (
	"bytes"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// strangerExchange has a stranger probe every member of a view of 4 and
// then send each a merge request with the cookie it got back, and returns
// the decoded answers, the view and its coordinator.
func strangerExchange(t *testing.T, participant bool) ([]ctlMsg, [][]byte, View, Endpoint) {
	t.Helper()
	c := newCluster(t, 0, transport.Faults{})
	if participant {
		c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	}
	for range 4 {
		c.add()
	}
	c.runUntil(3*time.Second, "one view of 4", func() bool { return c.converged(all(4)...) })
	v := c.members[0].view
	coord := v.Members[0]
	s := stranger(0)
	sent := c.record()
	own := Summary{ID: ViewID{LTime: 3, Coord: s}, Size: 1, Coord: s}
	var answers []ctlMsg
	var raw [][]byte
	collect := func() {
		for _, p := range *sent {
			if p.to != s.Addr {
				continue
			}
			msg, err := decodeCtl(p.data, 42)
			if err != nil {
				t.Fatalf("undecodable answer: %v", err)
			}
			answers = append(answers, msg)
			raw = append(raw, p.data)
		}
		*sent = (*sent)[:0]
	}
	for i := range c.members {
		c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: own, Pad: 2 * probeMinLen}))
		var cookie []byte
		for _, p := range *sent {
			if p.to == s.Addr {
				if msg, err := decodeCtl(p.data, 42); err == nil && len(msg.Cookie) == cookieLen {
					cookie = msg.Cookie
				}
			}
		}
		collect()
		if cookie == nil {
			t.Fatalf("member %d gave the stranger no cookie", i)
		}
		c.inject(i, s.Addr, encodeCtl(t, ctlMsg{Type: mMergeReq, From: s, View: v.ID,
			Proposal: View{ID: own.ID, Members: []Endpoint{s}}, Cookies: [][]byte{cookie}}))
		collect()
	}
	if len(answers) == 0 {
		t.Fatal("nobody answered the stranger: the test tests nothing")
	}
	return answers, raw, v, coord
}

// TestProbeTellsAStrangerNothingOfTheMembership has a stranger probe every
// member of a secure group (one with a participant) and ask each to absorb
// it: what comes back names the coordinator and carries an opaque ordering
// key, and nothing else of the view: no member's endpoint but the
// coordinator's and the answering member's own, not its size, not its id.
func TestProbeTellsAStrangerNothingOfTheMembership(t *testing.T) {
	answers, raw, v, coord := strangerExchange(t, true)
	for i, a := range answers {
		switch a.Type {
		case mProbe, mProbeReply:
			want := Summary{ID: ViewID{LTime: 1, Coord: coord}, Size: 2, Coord: coord}
			if a.Summary != want {
				t.Errorf("a %v tells a stranger %+v, want %+v", a.Type, a.Summary, want)
			}
		case mChallenge:
			// The coordinator's admission: a nonce.
		default:
			t.Errorf("a stranger was sent a %v", a.Type)
		}
		// The sender's own endpoint is the address the stranger chose;
		// any other but the coordinator's is one it was told.
		for _, e := range v.Members {
			if e != coord && e != a.From && bytes.Contains(raw[i], appendEndpoint(nil, e)) {
				t.Errorf("a %v to a stranger names member %v", a.Type, e)
			}
		}
	}
}

// TestProbeTellsTheSizeWithoutParticipant checks that a plain group still
// tells its view's size and id: merges there absorb the smaller view.
func TestProbeTellsTheSizeWithoutParticipant(t *testing.T) {
	answers, _, v, coord := strangerExchange(t, false)
	for _, a := range answers {
		if (a.Type == mProbe || a.Type == mProbeReply) && a.Summary != (Summary{ID: v.ID, Size: 4, Coord: coord}) {
			t.Errorf("a %v tells %+v, want the view %v of 4", a.Type, a.Summary, v.ID)
		}
	}
}

// TestStrangerClaimingToAbsorbBlocksNothing has a stranger prove its
// address to the coordinator of a secure group and claim a view that
// would absorb it, and then not answer the admission: the group never
// blocks, and nothing names a member but the coordinator to the stranger.
func TestStrangerClaimingToAbsorbBlocksNothing(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	for range 3 {
		c.add()
	}
	c.runUntil(3*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	ci := c.index(coord.self.Addr)
	sent := c.record()
	s := stranger(0)
	big := Summary{ID: ViewID{LTime: 7, Coord: s}, Size: MaxMembers, Coord: s}
	c.inject(ci, s.Addr, encodeCtl(t, ctlMsg{Type: mProbe, From: s, Summary: big, Pad: probeMinLen}))
	challenge := cookieIn(t, *sent, s.Addr)
	c.inject(ci, s.Addr, encodeCtl(t, ctlMsg{Type: mProbeReply, From: s, Summary: big, Echo: challenge,
		Cookie: make([]byte, cookieLen)}))
	for range 20 {
		if c.anyBlocked() {
			t.Fatalf("the group blocked for a stranger that never authenticated: %s", c.describe())
		}
		c.run(c.timing.Probe / 2)
	}
	if coord.counters["admissions_asked"] == 0 {
		t.Fatal("the coordinator did not ask the stranger for admission: the test tests nothing")
	}
	for _, p := range *sent {
		if p.to != s.Addr {
			continue
		}
		if p.from != coord.self.Addr {
			t.Errorf("member at %v sent the stranger a datagram", p.from)
		}
		for _, e := range v.Members {
			if e != coord.self && bytes.Contains(p.data, appendEndpoint(nil, e)) {
				t.Errorf("a datagram to the stranger names member %v", e)
			}
		}
	}
	if !c.converged(all(3)...) || c.members[0].view.ID != v.ID {
		t.Fatalf("the group changed: %s", c.describe())
	}
}
