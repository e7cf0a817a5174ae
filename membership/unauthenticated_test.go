package membership

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/transport"
)

// securedCluster is a view of n members with a participant that seals
// their control messages.
func securedCluster(t *testing.T, n int) *cluster {
	t.Helper()
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = macParticipant{key: "group"} }
	for range n {
		c.add()
	}
	c.runUntil(3*time.Second, "one view", func() bool { return c.converged(all(n)...) })
	return c
}

// TestUnsealedMessagesOfTheCoordinatorIgnoredInARound has a member taking
// part in its coordinator's view change receive, from the coordinator's
// address and in its name, unsealed messages of every type the round uses:
// a stranger's at that address. None may act; the round goes on.
func TestUnsealedMessagesOfTheCoordinatorIgnoredInARound(t *testing.T) {
	c := securedCluster(t, 3)
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	m := c.memberFor(v.Members[2])
	mi := c.index(m.self.Addr)
	// As for a member this coordinator never admitted (it joined under
	// another coordinator, or came in with a merged view): no pairwise
	// sealing with the coordinator tells its unsealed messages apart.
	clear(m.pairs)
	coord.Rekey()
	c.runUntil(time.Second, "the member in the round", func() bool { return m.part != nil })
	round := m.part.round
	forged := View{ID: ViewID{LTime: round.LTime + 3, Coord: coord.self}, Members: []Endpoint{coord.self, m.self}}
	for _, f := range []ctlMsg{
		{Type: mFlush, View: v.ID, Proposal: forged, Survivors: []Endpoint{coord.self, m.self}},
		{Type: mSync, Round: round, Vector: make([]uint64, len(v.Members)), Holders: make([]uint64, len(v.Members))},
		{Type: mDecideReq, Round: round},
		{Type: mPrepare, Round: round, Data: []byte("common"), Own: []byte("own")},
		{Type: mInstall, Round: round},
		{Type: mDismiss, Round: round},
		{Type: mChallenge, Nonce: make([]byte, nonceLen)},
	} {
		f.From = coord.self
		name := "drop.unauthenticated_member." + f.Type.String()
		before := m.counters[name]
		part := *m.part
		c.inject(mi, coord.self.Addr, encodeCtl(t, f))
		if m.counters[name] != before+1 {
			t.Errorf("an unsealed %v from the coordinator's address: %s not counted", f.Type, name)
		}
		if m.part == nil || m.part.round != part.round || m.part.phase != part.phase || m.part.prepared != part.prepared || m.view.ID != v.ID {
			t.Fatalf("an unsealed %v from the coordinator's address changed the round", f.Type)
		}
	}
	c.runUntil(time.Second, "the rekey of the 3", func() bool { return c.members[0].view.ID != v.ID && c.converged(all(3)...) })
}

// TestUnsealedInstallDoesNotInstallEarly has a member that processed the
// decision and waits for its coordinator's Install receive one unsealed
// from the coordinator's address: installing then would put it in a view
// before every member confirmed it. (Its pairwise sealing with the
// coordinator is dropped, as in the test above.)
func TestUnsealedInstallDoesNotInstallEarly(t *testing.T) {
	c := securedCluster(t, 3)
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	coord.Rekey()
	var m *Member
	c.runUntil(time.Second, "a member waiting for Install", func() bool {
		for _, x := range c.members {
			if x != coord && x.waitsForInstall() {
				m = x
				return true
			}
		}
		return false
	})
	clear(m.pairs) // as above
	c.inject(c.index(m.self.Addr), coord.self.Addr, encodeCtl(t, ctlMsg{Type: mInstall, From: coord.self, Round: m.part.round}))
	if m.view.ID != v.ID {
		t.Fatal("an unsealed Install from the coordinator's address installed the view")
	}
	if m.counters["drop.unauthenticated_member.Install"] == 0 {
		t.Fatal("the unsealed Install was not counted")
	}
}

// TestSpoofedMemberProbeNamesNoCoordinator has a stranger send, from each
// member's address and in its name, probes naming a coordinator at a third
// address that would absorb the group: a member's address vouches for
// nothing unsealed, so that address is never probed or learnt.
func TestSpoofedMemberProbeNamesNoCoordinator(t *testing.T) {
	c := securedCluster(t, 3)
	v := c.members[0].view
	sent := c.record()
	third := stranger(1)
	big := Summary{ID: ViewID{LTime: 7, Coord: third}, Size: MaxMembers, Coord: third}
	for i := range c.members {
		for _, e := range v.Members {
			if e == c.members[i].self {
				continue
			}
			for _, typ := range []msgType{mProbe, mProbeReply} {
				c.inject(i, e.Addr, encodeCtl(t, ctlMsg{Type: typ, From: e, Summary: big}))
			}
		}
	}
	c.run(10 * c.timing.Probe)
	if n, d := bytesTo(*sent, third.Addr); d > 0 {
		t.Fatalf("%d datagrams (%d bytes) sent to the coordinator a spoofed probe named", d, n)
	}
	for i, m := range c.members {
		if m.known.has(third.Addr) {
			t.Errorf("member %d learnt the address a spoofed probe named", i)
		}
	}
	if !c.converged(all(3)...) || c.members[0].view.ID != v.ID {
		t.Fatalf("the group changed: %s", c.describe())
	}
}

// TestForgedStackDatagramDoesNotInstall has a member that waits for its
// coordinator's Install receive, from a member's address, a datagram of
// the stack of the view it is about to install: nothing authenticates its
// header, so it must not stand in for the Install.
func TestForgedStackDatagramDoesNotInstall(t *testing.T) {
	c := securedCluster(t, 3)
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	coord.Rekey()
	var m *Member
	c.runUntil(time.Second, "a member waiting for Install", func() bool {
		for _, x := range c.members {
			if x != coord && x.waitsForInstall() {
				m = x
				return true
			}
		}
		return false
	})
	// The bottom layer's header (layers/bottom): version, group, the
	// view's wire id, the sender's rank, the payload's type; then a byte.
	d := []byte{1}
	d = binary.BigEndian.AppendUint64(d, 42)
	d = binary.AppendUvarint(d, m.part.proposal.ID.Wire())
	d = binary.AppendUvarint(d, 0)
	d = append(d, byte(layers.ECast), 0)
	if id, _, ok := m.flush.Datagram(d); !ok || id != m.part.proposal.ID.Wire() {
		t.Fatal("the forged datagram does not parse as one of the next view")
	}
	c.inject(c.index(m.self.Addr), coord.self.Addr, d)
	if m.view.ID != v.ID {
		t.Fatal("a stack datagram of the next view, unauthenticated, installed it")
	}
	c.runUntil(time.Second, "the rekey of the 3", func() bool { return c.members[0].view.ID != v.ID && c.converged(all(3)...) })
}

// TestUnsealedMessagesInMembersNamesDropped sends every member, from each
// other member's address and in its name, an unsealed message of every
// type but the probes and merge requests (which carry their own proofs):
// each is dropped and counted, and nothing changes.
func TestUnsealedMessagesInMembersNamesDropped(t *testing.T) {
	c := securedCluster(t, 3)
	v := c.members[0].view
	id := v.ID
	n := len(v.Members)
	msgs := []ctlMsg{
		{Type: mFlush, View: id, Proposal: View{ID: ViewID{LTime: id.LTime + 1, Coord: v.Members[0]}, Members: v.Members}, Survivors: v.Members},
		{Type: mFlushOK, Round: id, Vector: make([]uint64, n)},
		{Type: mSync, Round: id, Vector: make([]uint64, n), Holders: make([]uint64, n)},
		{Type: mSyncOK, Round: id},
		{Type: mInstall, Round: id},
		{Type: mInstallAck, Round: id},
		{Type: mSuspect, View: id, Suspects: v.Members[:1]},
		{Type: mLeave, View: id},
		{Type: mWait, Round: id},
		{Type: mDismiss, Round: id},
		{Type: mDecideReq, Round: id},
		{Type: mDecision, Round: id, Data: []byte("common")},
		{Type: mPrepare, Round: id, Data: []byte("common"), Own: []byte("own")},
		{Type: mConfirm, Round: id, Data: []byte("ok")},
		{Type: mRefuse, Round: id},
		{Type: mRekey, View: id},
		{Type: mFragment, Frag: fragment{ID: 1, Index: 0, Count: 2, Chunk: make([]byte, fragmentLen)}},
		{Type: mChallenge, Nonce: make([]byte, nonceLen)},
		{Type: mHandshake, Nonce: make([]byte, nonceLen), Step: 1, Data: []byte("hello")},
	}
	for i, m := range c.members {
		for _, e := range v.Members {
			if e == m.self {
				continue
			}
			for _, f := range msgs {
				f.From = e
				name := "drop.unauthenticated_member." + f.Type.String()
				before := m.counters[name]
				c.inject(i, e.Addr, encodeCtl(t, f))
				// A piece goes to reassembly before any sender is
				// believed: the whole message is what is dropped.
				if m.counters[name] == before && f.Type != mFragment {
					t.Errorf("member %d: an unsealed %v in %v's name: %s not counted", i, f.Type, e, name)
				}
				if m.blocked || m.coord != nil || m.part != nil || m.rekey || m.fd.leaving[m.view.Rank(e)] {
					t.Fatalf("member %d: an unsealed %v in %v's name acted", i, f.Type, e)
				}
				for r := range m.view.Members {
					if m.fd.suspects[r] || m.fd.slandered[r] {
						t.Fatalf("member %d: an unsealed %v in %v's name raised a suspicion of rank %d", i, f.Type, e, r)
					}
				}
			}
		}
	}
	c.run(c.timing.Suspect)
	if !c.converged(all(3)...) || c.members[0].view.ID != v.ID {
		t.Fatalf("the group changed: %s", c.describe())
	}
}
