package secure

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/membership"
)

// A Pairwise message is a MAC under the key of its sender's and its
// recipient's leaves: it opens at its recipient as its sender's only, not
// as another member's, not at another member, not altered, not in another
// class, not as sent the other way; a signature made where there is no
// pair key opens as well.
func TestPairwiseAuthentication(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	auths := make([]*authenticator, 3)
	for r, e := range v.Members {
		auths[r] = c.parts[c.index(e.Addr)].Authenticator(v, r).(*authenticator)
	}
	suite := auths[0].suite
	msg := []byte("SyncOK, from rank 1 to rank 0")
	tag := auths[1].SealTo(nil, msg, 0)
	if len(tag) != suite.HashSize() {
		t.Fatalf("a Pairwise tag of %d bytes, want a MAC of %d", len(tag), suite.HashSize())
	}
	if err := auths[0].Open(1, msg, tag, membership.Pairwise); err != nil {
		t.Fatalf("a genuine Pairwise message refused: %v", err)
	}
	// Another member cannot make it: its own pair key with the
	// recipient is another, whatever rank it claims.
	if auths[0].Open(2, msg, tag, membership.Pairwise) == nil {
		t.Fatal("rank 1's Pairwise message opened as rank 2's")
	}
	if auths[0].Open(1, msg, auths[2].SealTo(nil, msg, 0), membership.Pairwise) == nil {
		t.Fatal("rank 2 forged a Pairwise message of rank 1")
	}
	// Sealed for rank 2, it does not open at rank 0.
	toOther := auths[1].SealTo(nil, msg, 2)
	if err := auths[2].Open(1, msg, toOther, membership.Pairwise); err != nil {
		t.Fatalf("a Pairwise message to rank 2 refused there: %v", err)
	}
	if auths[0].Open(1, msg, toOther, membership.Pairwise) == nil {
		t.Fatal("a Pairwise message sealed for rank 2 opened at rank 0")
	}
	// The key is the same both ways; the message is not.
	if auths[1].Open(0, msg, tag, membership.Pairwise) == nil {
		t.Fatal("rank 1's message to rank 0 opened at rank 1 as rank 0's")
	}
	if auths[0].Open(0, msg, auths[0].SealTo(nil, msg, 1), membership.Pairwise) == nil {
		t.Fatal("a Pairwise message opened as its recipient's own")
	}
	altered := slices.Clone(tag)
	altered[0] ^= 1
	if auths[0].Open(1, append(slices.Clone(msg), '!'), tag, membership.Pairwise) == nil || auths[0].Open(1, msg, altered, membership.Pairwise) == nil {
		t.Fatal("an altered Pairwise message opened")
	}
	// Classes do not mix: a pair MAC is no Routine or Change tag, and
	// neither a Routine MAC (as long as a pair MAC) nor a Change
	// signature is a Pairwise tag.
	if auths[0].Open(1, msg, tag, membership.Routine) == nil || auths[0].Open(1, msg, tag, membership.Change) == nil {
		t.Fatal("a Pairwise tag opened in another class")
	}
	if auths[0].Open(1, msg, auths[1].Seal(nil, msg, membership.Routine), membership.Pairwise) == nil {
		t.Fatal("a Routine tag opened as a Pairwise one")
	}
	if auths[0].Open(1, msg, auths[1].Seal(nil, msg, membership.Change), membership.Pairwise) == nil {
		t.Fatal("a Change signature opened as a Pairwise tag")
	}
	// Without a recipient, or without a pair key, a Pairwise message is
	// signed, and opens at any member as its sender's only.
	signed := auths[1].Seal(nil, msg, membership.Pairwise)
	if len(signed) == suite.HashSize() {
		t.Fatal("a Pairwise message sealed without a recipient is not signed")
	}
	if err := auths[2].Open(1, msg, signed, membership.Pairwise); err != nil {
		t.Fatalf("a signed Pairwise message refused: %v", err)
	}
	if auths[2].Open(0, msg, signed, membership.Pairwise) == nil || auths[2].Open(1, msg, signed, membership.Change) == nil {
		t.Fatal("a signed Pairwise message opened as another's, or as a Change message")
	}
}

// A reply a member seals for its coordinator is a pair MAC, which binds
// the view and the sequence number the sealed message carries, although
// the pair's key is the same in every view both leaves are in: replayed,
// moved to another view, or once its view is retired, it does not open.
func TestPairwiseReplyReplayedOrStale(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v1 := c.members[0].View()
	coord, member := c.index(v1.Members[0].Addr), c.index(v1.Members[1].Addr)
	coordAddr := v1.Members[0].Addr
	var reply []byte
	c.onSend = func(from int, to netip.AddrPort, data []byte) [][]byte {
		if name, _ := membership.ControlType(data, 42); from == member && to == coordAddr && name == "SyncOK" && reply == nil {
			reply = slices.Clone(data)
		}
		return [][]byte{data}
	}
	rekey := func(what string) membership.View {
		before := c.members[coord].View().ID
		c.members[coord].Rekey()
		c.runUntil(2*time.Second, what, func() bool { return c.converged(0, 1, 2) && c.members[coord].View().ID != before })
		return c.members[coord].View()
	}
	v2 := rekey("a rekey")
	c.onSend = nil
	if reply == nil {
		t.Fatal("no SyncOK from the member to its coordinator")
	}
	hs := c.parts[coord].suite.HashSize()
	if n := len(reply); n < hs+1 || int(reply[n-hs-1]) != hs {
		t.Fatalf("the SyncOK's tag is no MAC of %d bytes", hs)
	}
	inject := func(data []byte, reason string) {
		t.Helper()
		before := c.counter(coord, reason)
		c.send(member, coordAddr, data)
		c.run(5 * time.Millisecond)
		if got := c.counter(coord, reason); got != before+1 {
			t.Fatalf("%s went from %d to %d", reason, before, got)
		}
	}
	// v1 is the view before, which the coordinator still opens.
	inject(reply, "drop.replay")
	var id1, id2 [8]byte
	binary.BigEndian.PutUint64(id1[:], v1.ID.Wire())
	binary.BigEndian.PutUint64(id2[:], v2.ID.Wire())
	i := bytes.Index(reply, id1[:])
	if i < 0 {
		t.Fatal("the reply does not name its view")
	}
	moved := slices.Clone(reply)
	copy(moved[i:], id2[:])
	inject(moved, "drop.forged_control")
	rekey("a second rekey")
	rekey("a third rekey")
	inject(reply, "drop.unsealed_view")
}

// Pair keys are derived once for as long as both leaves live: a view
// change costs the coordinator a DH with the committer's new leaf, not one
// per member, and the keys of leaves no view of the coordinator still has
// are erased.
func TestPairKeysCachedAndBounded(t *testing.T) {
	const n = 6
	c := newCluster(t)
	c.form(n)
	v := c.members[0].View()
	coord := c.index(v.Members[0].Addr)
	p := c.parts[coord].Participant
	rekey := func(what string, live ...int) {
		before := c.members[coord].View().ID
		c.members[coord].Rekey()
		c.runUntil(2*time.Second, what, func() bool { return c.converged(live...) && c.members[coord].View().ID != before })
		c.run(100 * time.Millisecond) // the acknowledgements of Install
	}
	all := seq(0, n)
	rekey("a rekey", all...)
	dhs := func() int {
		p.pairs.mu.Lock()
		defer p.pairs.mu.Unlock()
		return p.pairs.dhs
	}
	start := dhs()
	const rekeys = 2 * n
	refreshed := 0
	for range rekeys {
		own := string(p.cur.leaf(0).EncryptionKey)
		rekey("another rekey", all...)
		if own != string(p.cur.leaf(0).EncryptionKey) {
			refreshed++ // the coordinator committed: its own leaf is new
		}
	}
	// A DH with the committer's new leaf each round, and one with each
	// peer after a round in which the coordinator's own leaf changed
	// (and the first replies of the next round).
	if d := dhs() - start; d == 0 || d > rekeys+(refreshed+1)*(n-1) || d >= rekeys*(n-1) {
		t.Fatalf("the coordinator derived %d pair keys in %d rekeys of %d members (%d of its own leaf)", d, rekeys, n, refreshed)
	}
	if got := p.pairs.size(); got == 0 || got > 2*(n-1) {
		t.Fatalf("the coordinator keeps %d pair keys for %d peers", got, n-1)
	}
	// A member crashes: two views on, no key of its leaf is left.
	victim := c.index(c.members[coord].View().Members[n-1].Addr)
	victimLeaf := string(p.cur.leaf(n - 1).EncryptionKey)
	c.crash(victim)
	var live []int
	for _, i := range all {
		if i != victim {
			live = append(live, i)
		}
	}
	c.members[coord].Suspect(c.members[coord].View().Members[n-1])
	c.runUntil(2*time.Second, "the survivors' view", func() bool {
		return c.converged(live...) && len(c.members[coord].View().Members) == n-1
	})
	rekey("a rekey without the victim", live...)
	rekey("a second rekey without the victim", live...)
	p.pairs.mu.Lock()
	defer p.pairs.mu.Unlock()
	for id := range p.pairs.keys {
		if id.peer == victimLeaf {
			t.Fatal("the coordinator keeps a pair key of a crashed member's leaf")
		}
	}
	if len(p.pairs.keys) > 2*(n-2) {
		t.Fatalf("the coordinator keeps %d pair keys for %d peers", len(p.pairs.keys), n-2)
	}
}

// Pairwise messages are MACed in every suite whose KEM is a Diffie-Hellman
// group, and signed in one whose KEM has none (X-Wing); in both, a view
// change goes through.
func TestPairwiseSuites(t *testing.T) {
	for _, id := range []crypto.SuiteID{crypto.MLS128DHKEMP256AES128GCMSHA256P256, crypto.ConclaveXWingAES256GCMSHA256Ed25519} {
		t.Run(id.String(), func(t *testing.T) {
			c := newCluster(t)
			c.suite = id
			c.form(3)
			v := c.members[0].View()
			coord := c.index(v.Members[0].Addr)
			c.members[coord].Rekey()
			c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(0, 1, 2) && c.members[coord].View().ID != v.ID })
			w := c.members[coord].View()
			a0 := c.parts[coord].Authenticator(w, 0).(*authenticator)
			a1 := c.parts[c.index(w.Members[1].Addr)].Authenticator(w, 1).(*authenticator)
			msg := []byte("FlushOK, from rank 1 to rank 0")
			tag := a1.SealTo(nil, msg, 0)
			if err := a0.Open(1, msg, tag, membership.Pairwise); err != nil {
				t.Fatalf("a Pairwise message refused: %v", err)
			}
			if mac := len(tag) == a0.suite.HashSize(); mac != a0.suite.HasDH() {
				t.Fatalf("a Pairwise tag of %d bytes in a suite with DH %v", len(tag), a0.suite.HasDH())
			}
		})
	}
}
