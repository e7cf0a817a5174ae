package membership

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// macParticipant authenticates control messages with HMAC-SHA256 under a
// key made from a group key and the view.
type macParticipant struct {
	plain
	key string
}

type macAuth struct{ key []byte }

func (a macAuth) Seal(dst, msg []byte, c Class) []byte {
	h := hmac.New(sha256.New, a.key)
	h.Write([]byte{byte(c)})
	h.Write(msg)
	return h.Sum(dst)
}

func (a macAuth) Open(_ int, msg, tag []byte, c Class) error {
	if !hmac.Equal(a.Seal(nil, msg, c), tag) {
		return errors.New("mac: not authentic")
	}
	return nil
}

func (p macParticipant) Authenticator(v View, _ int) Authenticator {
	h := hmac.New(sha256.New, []byte(p.key))
	h.Write(appendViewID(nil, v.ID))
	return macAuth{key: h.Sum(nil)}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	for _, c := range []struct {
		seq  uint64
		want bool
	}{{0, false}, {1, true}, {1, false}, {3, true}, {2, true}, {2, false}, {100, true}, {36, false}, {37, true}, {37, false}, {1 << 63, true}, {99, false}} {
		if got := w.accept(c.seq); got != c.want {
			t.Fatalf("accept(%d) = %v, want %v", c.seq, got, c.want)
		}
	}
}

// TestForgedControlMessagesDropped sends a member control messages with
// another member's address: unsealed, sealed under a key the group does
// not use, and a replay of a genuine one. None may act, or count as a
// sign of life, and each is counted.
func TestForgedControlMessagesDropped(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	sent := c.record()
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	ci := c.index(coord.self.Addr)
	victim, other := v.Members[1], v.Members[2]
	next := View{ID: ViewID{LTime: v.ID.LTime + 1, Coord: victim}, Members: []Endpoint{victim, coord.self}}
	forged := []ctlMsg{
		{Type: mSuspect, From: victim, View: v.ID, Suspects: []Endpoint{other}},
		{Type: mLeave, From: victim, View: v.ID},
		{Type: mFlush, From: victim, View: v.ID, Proposal: next, Survivors: []Endpoint{victim, coord.self}},
		{Type: mInstall, From: victim, Round: next.ID},
		{Type: mProbe, From: victim, Summary: Summary{ID: next.ID, Size: 2, Coord: victim}},
	}
	for _, f := range forged {
		c.inject(ci, victim.Addr, encodeCtl(t, f))
	}
	wrongKey := newSealing(v, v.Rank(victim), macParticipant{key: "not the group's"}.Authenticator(v, 0))
	c.inject(ci, victim.Addr, wrongKey.seal(42, victim, encodeCtl(t, forged[0])))
	for _, name := range []string{"unauthenticated.Suspect", "unauthenticated.Leave", "unauthenticated.Flush",
		"unauthenticated.Install", "unauthenticated.Probe", "drop.forged_control"} {
		if coord.counters[name] == 0 {
			t.Errorf("%s not counted", name)
		}
	}
	if coord.blocked || coord.coord != nil || coord.part != nil || coord.fd.leaving[v.Rank(victim)] {
		t.Fatal("a forged control message started a view change")
	}
	for r, s := range coord.fd.suspects {
		if s {
			t.Fatalf("a forged control message made the coordinator suspect rank %d", r)
		}
	}
	c.run(c.timing.Suspect)
	if !c.converged(all(3)...) || c.members[0].view.ID != v.ID {
		t.Fatalf("the view changed: %s", c.describe())
	}
	// A genuine sealed message, replayed.
	vi := c.index(victim.Addr)
	*sent = (*sent)[:0]
	c.members[vi].Rekey()
	c.drain(vi)
	var genuine []byte
	for _, p := range *sent {
		if p.from == victim.Addr && p.to == coord.self.Addr && p.data[0] == Magic {
			if msg, err := decodeCtl(p.data, 42); err == nil && msg.Type == mSealed {
				genuine = p.data
			}
		}
	}
	if genuine == nil {
		t.Fatal("the member's Rekey was not sealed")
	}
	c.inject(ci, victim.Addr, genuine)
	c.inject(ci, victim.Addr, genuine)
	if coord.counters["drop.replay"] == 0 {
		t.Fatal("a replayed control message was not counted")
	}
	c.runUntil(time.Second, "the rekey round", func() bool { return c.members[0].view.ID != v.ID && c.converged(all(3)...) })
	// Forged messages from a dead member's address do not keep it in the
	// view.
	c.crash(vi)
	var rest []int
	for i := range 3 {
		if i != vi {
			rest = append(rest, i)
		}
	}
	c.runUntil(2*time.Second, "the dead member excluded", func() bool {
		c.inject(ci, victim.Addr, genuine)
		c.inject(ci, victim.Addr, encodeCtl(t, ctlMsg{Type: mWait, From: victim, Round: v.ID}))
		c.inject(ci, victim.Addr, encodeCtl(t, ctlMsg{Type: mInstallAck, From: victim, Round: v.ID}))
		return c.converged(rest...)
	})
}

// TestLoneMemberRefusesUnadmittedFlush has a process alone, that asked a
// coordinator to absorb it, receive a Flush from that coordinator's
// address that no handshake authenticated: it must not consent.
func TestLoneMemberRefusesUnadmittedFlush(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	c.add()
	c.run(c.timing.Probe)
	m := c.members[0]
	s := stranger(0)
	m.asked = asked{coord: s, at: c.now}
	next := View{ID: ViewID{LTime: 50, Coord: s}, Members: []Endpoint{s, m.self}}
	c.inject(0, s.Addr, encodeCtl(t, ctlMsg{Type: mFlush, From: s, View: ViewID{LTime: 49, Coord: s}, Proposal: next, Survivors: []Endpoint{s}}))
	if m.blocked || m.part != nil {
		t.Fatal("a lone member consented to a Flush no handshake authenticated")
	}
	if m.counters["drop.flush_unadmitted"] == 0 {
		t.Fatal("the Flush was not counted")
	}
}
