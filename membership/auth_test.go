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
	c.inject(ci, victim.Addr, wrongKey.seal(42, victim, encodeCtl(t, forged[0]), 0))
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

// signParticipant stands in for a participant whose Change and Pairwise
// messages are signed by their sender: a member seals one with an HMAC
// under a key of its own rank in the view, which in the tests no other
// member uses to seal (as no member can sign with another's key), and a
// Routine message under the view's key.
type signParticipant struct{ plain }

type signAuth struct {
	view []byte
	rank int
}

func (a signAuth) key(c Class, rank int) []byte {
	h := hmac.New(sha256.New, []byte("signing keys"))
	h.Write(a.view)
	if c != Routine {
		h.Write([]byte{byte(rank)})
	}
	return h.Sum(nil)
}

func (a signAuth) mac(c Class, rank int, msg []byte) []byte {
	h := hmac.New(sha256.New, a.key(c, rank))
	h.Write([]byte{byte(c)})
	h.Write(msg)
	return h.Sum(nil)
}

func (a signAuth) Seal(dst, msg []byte, c Class) []byte {
	return append(dst, a.mac(c, a.rank, msg)...)
}

func (a signAuth) Open(from int, msg, tag []byte, c Class) error {
	if !hmac.Equal(a.mac(c, from, msg), tag) {
		return errors.New("sign: not authentic")
	}
	return nil
}

func (signParticipant) Authenticator(v View, rank int) Authenticator {
	return signAuth{view: appendViewID(nil, v.ID), rank: rank}
}

// quietVictim crashes member victim of the view of 3 the cluster formed,
// and lets a little time pass (less than a suspicion), so that what the
// coordinator credits it with from now on can only come from forgeries.
// It returns the coordinator and when it last heard from the victim.
func quietVictim(t *testing.T, c *cluster, victim Endpoint) (*Member, time.Duration) {
	t.Helper()
	c.crash(c.index(victim.Addr))
	c.run(c.timing.Suspect / 5)
	coord := c.memberFor(c.members[0].view.Members[0])
	return coord, coord.fd.last[coord.view.Rank(victim)]
}

// checkNothingHappened checks that the coordinator did not act on what it
// was sent: no view change, no suspicion, no leave, no credit for the
// victim.
func checkNothingHappened(t *testing.T, coord *Member, v View, victim Endpoint, heard time.Duration) {
	t.Helper()
	r := v.Rank(victim)
	if coord.blocked || coord.coord != nil || coord.part != nil || coord.fd.leaving[r] {
		t.Fatal("a forged control message started a view change or a leave")
	}
	for i, s := range coord.fd.suspects {
		if s || coord.fd.slandered[i] {
			t.Fatalf("a forged control message made the coordinator suspect rank %d", i)
		}
	}
	if coord.fd.last[r] != heard {
		t.Fatalf("a forged control message counted as a sign of life of rank %d (last heard %v, was %v)", r, coord.fd.last[r], heard)
	}
	if coord.rekey {
		t.Fatal("a forged control message asked for a rekey")
	}
}

// TestSealedControlFailuresCreditNothing seals members' control messages
// in every way that must fail to open: a Change message in the Routine
// class, under the sender's rank; a tag that does not verify; a rank that
// names another member than the sender; a replay. Each is dropped and
// counted by its reason, and neither acts nor counts as a sign of life.
func TestSealedControlFailuresCreditNothing(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	sent := c.record()
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	victim, other := v.Members[1], v.Members[2]
	// A genuine sealed Rekey from the victim, kept for the replay.
	vi := c.index(victim.Addr)
	*sent = (*sent)[:0]
	c.members[vi].Rekey()
	c.drain(vi)
	var genuine []byte
	for _, p := range *sent {
		if p.from == victim.Addr && p.data[0] == Magic {
			if msg, err := decodeCtl(p.data, 42); err == nil && msg.Type == mSealed {
				genuine = p.data
			}
		}
	}
	if genuine == nil {
		t.Fatal("the member's Rekey was not sealed")
	}
	c.runUntil(time.Second, "the rekey round", func() bool { return c.members[0].view.ID != v.ID && c.converged(all(3)...) })
	v = c.members[0].view
	victimAuth := c.members[vi].sealNow.auth
	coord, heard := quietVictim(t, c, victim)
	ci := c.index(coord.self.Addr)
	// The replay is of the previous view's Rekey, which the coordinator
	// still opens (its sealPrev): sent again in the view it was sealed
	// in, it would act.
	leave := encodeCtl(t, ctlMsg{Type: mLeave, From: victim, View: v.ID})
	suspect := encodeCtl(t, ctlMsg{Type: mSuspect, From: victim, View: v.ID, Suspects: []Endpoint{other}})
	cases := []struct {
		name, reason string
		data         []byte
	}{
		{"Leave sealed as Routine", "drop.forged_control",
			newSealing(v, v.Rank(victim), victimAuth).sealIn(42, victim, leave, Routine, 0)},
		{"Suspect under another key", "drop.forged_control",
			newSealing(v, v.Rank(victim), macParticipant{key: "not the group's"}.Authenticator(v, 0)).seal(42, victim, suspect, 0)},
		{"Suspect with another member's rank", "drop.forged_control",
			newSealing(v, v.Rank(other), victimAuth).seal(42, victim, suspect, 0)},
		{"Rekey replayed", "drop.replay", genuine},
	}
	for _, tc := range cases {
		before := coord.counters[tc.reason]
		c.inject(ci, victim.Addr, tc.data)
		if coord.counters[tc.reason] != before+1 {
			t.Errorf("%s: %s went from %d to %d", tc.name, tc.reason, before, coord.counters[tc.reason])
		}
		checkNothingHappened(t, coord, v, victim, heard)
	}
}

// TestInsiderCannotForgeAnotherMembersChange has a member seal, with its
// own key, a Suspect and a Leave that claim to come from another member
// (that member's endpoint, rank and address): with an authenticator whose
// Change class is bound to the sender, none opens.
func TestInsiderCannotForgeAnotherMembersChange(t *testing.T) {
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = signParticipant{} }
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	v := c.members[0].view
	victim, insider := v.Members[1], v.Members[2]
	insiderAuth := c.memberFor(insider).sealNow.auth
	coord, heard := quietVictim(t, c, victim)
	ci := c.index(coord.self.Addr)
	// As the victim, with the victim's rank: the tag is the insider's.
	asVictim := newSealing(v, v.Rank(victim), insiderAuth)
	// As the victim, with the insider's own rank: the rank does not name
	// the sender.
	ownRank := newSealing(v, v.Rank(insider), insiderAuth)
	for _, f := range []ctlMsg{
		{Type: mSuspect, From: victim, View: v.ID, Suspects: []Endpoint{insider}},
		{Type: mLeave, From: victim, View: v.ID},
		{Type: mRekey, From: victim, View: v.ID},
	} {
		for _, s := range []*sealing{asVictim, ownRank} {
			before := coord.counters["drop.forged_control"]
			c.inject(ci, victim.Addr, s.seal(42, victim, encodeCtl(t, f), v.Rank(coord.self)))
			if coord.counters["drop.forged_control"] != before+1 {
				t.Errorf("%v sealed by the insider as rank %d: not counted as forged", f.Type, s.rank)
			}
			checkNothingHappened(t, coord, v, victim, heard)
		}
	}
}
