package secure

import (
	"errors"
	"net/netip"
	"slices"

	"bytes"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
	"testing"
	"time"
)

// A group of four forms; every member installs each view with the same
// epoch, exports the same secrets, and names the members by identity.
func TestGroupForms(t *testing.T) {
	c := newCluster(t)
	c.form(4)
	all := seq(0, 4)
	c.sameEpoch(all...)
	// Every view installed on the way, at every member that installed it.
	digests := map[membership.ViewID][32]byte{}
	for _, i := range all {
		for _, ev := range c.events[i] {
			if ev.Kind != membership.ViewChange {
				continue
			}
			d, ok := c.parts[i].EpochDigest(ev.View.ID)
			if !ok || ev.Epoch != c.epochOf(i, ev.View.ID) {
				t.Fatalf("member %d installed %v without its epoch", i, ev.View)
			}
			if d0, seen := digests[ev.View.ID]; seen && d0 != d {
				t.Fatalf("members disagree on the epoch of %v", ev.View)
			}
			digests[ev.View.ID] = d
		}
	}
	if len(digests) < 4 {
		t.Fatalf("%d views formed the group", len(digests))
	}
	v := c.members[0].View()
	x0, err := c.parts[0].Export("test", []byte("ctx"), 32)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range all {
		x, err := c.parts[i].Export("test", []byte("ctx"), 32)
		if err != nil || !bytes.Equal(x, x0) {
			t.Fatalf("member %d exports another secret (%v)", i, err)
		}
		if !c.parts[i].Confirmed(v.ID) {
			t.Fatalf("member %d did not confirm the view", i)
		}
		ids, epoch, ok := c.parts[i].Describe(v)
		if !ok || epoch != c.parts[0].Epoch() || len(ids) != 4 {
			t.Fatalf("member %d describes the view as %v %d %v", i, ids, epoch, ok)
		}
		for r, id := range ids {
			if id.Name != c.parts[c.index(v.Members[r].Addr)].Identity().Name {
				t.Fatalf("member %d names rank %d %v", i, r, id)
			}
		}
	}
	if x, _ := c.parts[0].Export("test", []byte("other"), 32); bytes.Equal(x, x0) {
		t.Fatal("export ignores its context")
	}
	c.run(200 * time.Millisecond)
	if !c.converged(all...) {
		t.Fatalf("the group did not stay together:%s", c.describe())
	}
	for _, i := range all {
		if n := c.counter(i, "drop.forged_control"); n != 0 {
			t.Fatalf("member %d dropped %d control messages as forged", i, n)
		}
	}
}

// A stranger whose identity the group does not admit is kept out: it
// receives no decision and installs no view of the group, and the group
// goes on (it rekeys).
func TestRefusedJoiner(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	s := c.add(false)
	c.run(2 * time.Second)
	if !c.converged(0, 1, 2) {
		t.Fatalf("the group did not stay together:%s", c.describe())
	}
	if v := c.members[s].View(); len(v.Members) != 1 {
		t.Fatalf("the stranger is in %v", v)
	}
	for id := range c.parts[s].commons {
		if id.Coord != c.members[s].Self() {
			t.Fatalf("the stranger processed a decision of view %v", id)
		}
	}
	v := c.members[0].View()
	if _, ok := c.parts[s].EpochDigest(v.ID); ok || c.parts[s].Confirmed(v.ID) {
		t.Fatal("the stranger holds the group's epoch")
	}
	var refused uint64
	for i := range 3 {
		refused += c.counter(i, "admissions_refused")
	}
	if refused == 0 {
		t.Fatal("nobody refused the stranger")
	}
	c.members[c.index(v.Members[0].Addr)].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool {
		return c.converged(0, 1, 2) && c.members[0].View().ID != v.ID
	})
	c.sameEpoch(0, 1, 2)
}

// Every member checks every identity a view change brings with its own
// admission check: a member that refuses the newcomer never confirms nor
// installs a view holding it, and the others take it in without that
// member.
func TestMemberRefusesNewIdentity(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	x := c.index(v.Members[2].Addr) // neither coordinator nor, at first, decider
	s := c.add(true)
	newcomer := c.members[s].Self()
	c.deny[x] = map[string]bool{c.parts[s].Identity().Name: true}
	others := slices.DeleteFunc(seq(0, 4), func(i int) bool { return i == x })
	c.runUntil(5*time.Second, "the newcomer's view", func() bool { return c.converged(others...) })
	c.sameEpoch(others...)
	c.run(time.Second)
	for _, ev := range c.events[x] {
		if ev.Kind == membership.ViewChange && ev.View.Has(newcomer) {
			t.Fatalf("the refusing member installed %v", ev.View)
		}
	}
	refused := 0
	for id, w := range c.parts[x].views {
		if w.Has(newcomer) {
			refused++
			if c.parts[x].Confirmed(id) {
				t.Fatalf("the refusing member confirmed %v", w)
			}
		}
	}
	if refused == 0 {
		t.Fatal("the refusing member was never asked")
	}
}

// A member checks the identities a view change adds, not those already in
// the epoch it holds: a member whose policy came to refuse one already in
// still takes part in a rekey with it (evicting it is another matter).
func TestAdmissionOfNewIdentitiesOnly(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	x := c.index(v.Members[2].Addr)
	other := c.index(v.Members[1].Addr)
	c.deny[x] = map[string]bool{c.parts[other].Identity().Name: true}
	c.members[0].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(0, 1, 2) && c.members[0].View().ID != v.ID })
	c.sameEpoch(0, 1, 2)
}

// A process configured for a group of another name, even with an admitted
// key, refuses the welcome into this one: no epoch is shared across group
// names.
func TestOtherGroupRefused(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	c.names[3] = "other"
	x := c.add(true)
	c.run(2 * time.Second)
	if !c.converged(0, 1, 2) {
		t.Fatalf("the group did not stay together:%s", c.describe())
	}
	for _, ev := range c.events[x] {
		if ev.Kind == membership.ViewChange && len(ev.View.Members) > 1 {
			t.Fatalf("the process of another group installed %v", ev.View)
		}
	}
	asked := false
	for id, w := range c.parts[x].views {
		asked = asked || len(w.Members) > 1
		if len(w.Members) > 1 && c.parts[x].Confirmed(id) {
			t.Fatalf("the process of another group confirmed %v", w)
		}
	}
	if !asked {
		t.Fatal("the process of another group was never welcomed")
	}
}

// A member that fails, and one that leaves, cannot follow the group: the
// survivors' new epoch differs, and the departed member's saved state
// refuses the commit that removed it.
func TestDepartedCannotFollow(t *testing.T) {
	c := newCluster(t)
	c.form(4)
	live := seq(0, 4)
	for _, leave := range []bool{false, true} {
		v := c.members[live[0]].View()
		before := c.sameEpoch(live...)
		victim := c.index(v.Members[len(v.Members)-1].Addr)
		saved, err := c.parts[victim].cur.group.Marshal(nil)
		if err != nil {
			t.Fatal(err)
		}
		if leave {
			c.members[victim].Leave()
		} else {
			c.crash(victim)
		}
		live = slices.DeleteFunc(live, func(i int) bool { return i == victim })
		c.runUntil(3*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
		after := c.sameEpoch(live...)
		if after == before {
			t.Fatal("the survivors kept the epoch of the view with the departed member")
		}
		common := c.parts[live[0]].commons[c.members[live[0]].View().ID]
		commit, err := keying.ParseCommit(common[1:])
		if err != nil {
			t.Fatal(err)
		}
		g, _, err := keying.Unmarshal(saved)
		if err != nil {
			t.Fatal(err)
		}
		if err := g.Process(commit); !errors.Is(err, keying.ErrRemoved) {
			t.Fatalf("the departed member processed the commit that removed it: %v", err)
		}
		if _, ok := c.parts[victim].EpochDigest(c.members[live[0]].View().ID); ok {
			t.Fatal("the departed member installed the survivors' epoch")
		}
	}
}

// A tampered handshake message is refused and the handshake goes on with
// the genuine one, to the same result on both sides.
func TestHandshakeOutlivesTamperedMessage(t *testing.T) {
	c := newCluster(t)
	a, b := c.add(true), c.add(true)
	pa, pb := c.parts[a].Participant, c.parts[b].Participant
	ea, eb := c.members[a].Self(), c.members[b].Self()
	nonce := []byte("0123456789abcdef")
	hb, err := pb.Handshake(true, eb, ea, nonce)
	if err != nil {
		t.Fatal(err)
	}
	ha, err := pa.Handshake(false, ea, eb, nonce)
	if err != nil {
		t.Fatal(err)
	}
	tampered := func(m []byte) []byte {
		m = slices.Clone(m)
		m[len(m)-1] ^= 1
		return m
	}
	m1, _, err := hb.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ha.Consume(m1); err != nil {
		t.Fatal(err)
	}
	m2, _, err := ha.Create()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := hb.Consume(tampered(m2)); err == nil {
		t.Fatal("a tampered second message was taken")
	}
	if _, err := hb.Consume(m2); err != nil {
		t.Fatalf("the genuine second message after a tampered one: %v", err)
	}
	m3, done, err := hb.Create()
	if err != nil || !done {
		t.Fatalf("third message: %v, done %v", err, done)
	}
	if _, err := ha.Consume(tampered(m3)); err == nil {
		t.Fatal("a tampered third message was taken")
	}
	if done, err := ha.Consume(m3); err != nil || !done {
		t.Fatalf("the genuine third message after a tampered one: %v, done %v", err, done)
	}
	idA, sa := ha.Result()
	idB, sb := hb.Result()
	if idA.Name != pb.Identity().Name || idB.Name != pa.Identity().Name || !bytes.Equal(sa, sb) || len(sa) < 32 {
		t.Fatal("the two sides disagree on the handshake's result")
	}
	eb2, _ := endpointBytes(eb)
	if e, ok := pa.rosters.entry(eb2); !ok || e.identity.Name != pb.Identity().Name {
		t.Fatal("the responder kept no roster entry for the joiner")
	}
}

// Over the network, every handshake message that answers the peer arrives
// first tampered, then genuine: the tampered copies are dropped, no attempt
// stalls, and the group forms. (An XX first message is not authenticated:
// a responder that takes a tampered one answers a handshake the joiner
// never began, which fails at the joiner, so the first message is left
// alone here.)
func TestTamperedHandshakeDropped(t *testing.T) {
	c := newCluster(t)
	spoke := map[[2]int]bool{}
	c.onSend = func(from int, to netip.AddrPort, data []byte) [][]byte {
		if name, _ := membership.ControlType(data, 42); name != "Handshake" {
			return [][]byte{data}
		}
		spoke[[2]int{from, c.index(to)}] = true
		if !spoke[[2]int{c.index(to), from}] {
			return [][]byte{data}
		}
		bad := slices.Clone(data)
		bad[len(bad)-1] ^= 1
		return [][]byte{bad, data}
	}
	c.form(3)
	var refused, stalled uint64
	for i := range 3 {
		refused += c.counter(i, "drop.handshake_refused")
		stalled += c.counter(i, "admissions_stalled")
	}
	if refused == 0 || stalled != 0 {
		t.Fatalf("%d tampered handshake messages refused, %d attempts stalled", refused, stalled)
	}
	c.sameEpoch(0, 1, 2)
}

// A Change control message verifies only as sent by the member whose key
// signed it; a Routine one only under the view's key; neither as the
// other class.
func TestControlAuthentication(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	auths := make([]membership.Authenticator, 3)
	for r, e := range v.Members {
		auths[r] = c.parts[c.index(e.Addr)].Authenticator(v, r)
	}
	// The application's exporter never yields the view's control key.
	for _, label := range []string{controlKeyLabel, "conclave control", ""} {
		x, err := c.parts[c.index(v.Members[0].Addr)].Export(label, nil, len(auths[0].(*authenticator).key))
		if err != nil || bytes.Equal(x, auths[0].(*authenticator).key) {
			t.Fatalf("Export(%q) gives the control key (%v)", label, err)
		}
	}
	msg := []byte("Suspect rank 2, from rank 1")
	change := auths[1].Seal(nil, msg, membership.Change)
	if err := auths[0].Open(1, msg, change, membership.Change); err != nil {
		t.Fatalf("a genuine Change message refused: %v", err)
	}
	if auths[0].Open(2, msg, change, membership.Change) == nil {
		t.Fatal("a Change message signed by rank 1 opened as rank 2's")
	}
	if auths[0].Open(1, append(slices.Clone(msg), '!'), change, membership.Change) == nil {
		t.Fatal("a changed Change message opened")
	}
	if auths[0].Open(1, msg, change, membership.Routine) == nil {
		t.Fatal("a signature opened as a Routine tag")
	}
	routine := auths[1].Seal(nil, msg, membership.Routine)
	if err := auths[2].Open(1, msg, routine, membership.Routine); err != nil {
		t.Fatalf("a genuine Routine message refused: %v", err)
	}
	if auths[2].Open(1, msg, routine, membership.Change) == nil {
		t.Fatal("a Routine tag opened as a Change message")
	}
	// The same view's key in another epoch (a rekey) is another key.
	c.members[0].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(0, 1, 2) && c.members[0].View().ID != v.ID })
	w := c.members[0].View()
	next := c.parts[c.index(w.Members[0].Addr)].Authenticator(w, 0)
	if next.Open(1, msg, routine, membership.Routine) == nil {
		t.Fatal("a Routine tag of another epoch opened")
	}
	if auths[0].Open(5, msg, change, membership.Change) == nil {
		t.Fatal("a rank outside the view opened")
	}
	// Two views on, the first view's authenticator is retired: its key
	// erased, it opens nothing.
	c.members[0].Rekey()
	c.runUntil(2*time.Second, "a second rekey", func() bool { return c.converged(0, 1, 2) && c.members[0].View().ID != w.ID })
	if auths[0].Open(1, msg, change, membership.Change) == nil || auths[2].Open(1, msg, routine, membership.Routine) == nil {
		t.Fatal("an authenticator two views old still opens")
	}
	if k := auths[2].(*authenticator).key; !bytes.Equal(k, make([]byte, len(k))) {
		t.Fatal("a retired authenticator keeps its key")
	}
}

// The coordinator fails once every member has confirmed a rekey and
// before it orders Install: the survivors, who processed the commit,
// discard it and agree on a new epoch from the one they share.
func TestCoordinatorFailsBeforeInstall(t *testing.T) {
	c := newCluster(t)
	c.form(4)
	v := c.members[0].View()
	before := c.sameEpoch(seq(0, 4)...)
	coord := c.index(v.Members[0].Addr)
	var round membership.ViewID
	c.onSend = func(from int, _ netip.AddrPort, data []byte) [][]byte {
		if name, _ := membership.ControlType(data, 42); from == coord && name == "Install" {
			if !c.crashed[coord] {
				for id := range c.parts[coord].commons {
					if id.LTime > round.LTime {
						round = id
					}
				}
				c.crash(coord)
			}
			return nil
		}
		return [][]byte{data}
	}
	c.members[coord].Rekey()
	live := slices.DeleteFunc(seq(0, 4), func(i int) bool { return i == coord })
	c.runUntil(3*time.Second, "the survivors' view", func() bool { return c.converged(live...) })
	if round == (membership.ViewID{}) {
		t.Fatal("the coordinator never ordered Install")
	}
	after := c.sameEpoch(live...)
	if after == before {
		t.Fatal("the survivors kept the old epoch")
	}
	for _, i := range live {
		p := c.parts[i]
		if !p.Confirmed(round) {
			t.Fatalf("member %d never processed the abandoned round", i)
		}
		if _, ok := p.EpochDigest(round); ok {
			t.Fatalf("member %d installed the abandoned round", i)
		}
		if len(p.pending) != 0 || p.commit != nil {
			t.Fatalf("member %d still holds an uninstalled epoch", i)
		}
	}
}

// Two groups of two, formed apart, merge into one group with one epoch.
func TestPartitionMerge(t *testing.T) {
	c := newCluster(t)
	c.net.Partition([]netip.AddrPort{transport.Addr(0), transport.Addr(1)}, []netip.AddrPort{transport.Addr(2), transport.Addr(3)})
	for range 4 {
		c.add(true)
	}
	c.runUntil(5*time.Second, "two groups", func() bool { return c.converged(0, 1) && c.converged(2, 3) })
	a, b := c.sameEpoch(0, 1), c.sameEpoch(2, 3)
	if a == b {
		t.Fatal("two groups apart share an epoch")
	}
	healed := make([]int, 4)
	for i := range healed {
		healed[i] = len(c.events[i])
	}
	c.net.Heal()
	c.runUntil(10*time.Second, "the merge", func() bool { return c.converged(0, 1, 2, 3) })
	c.sameEpoch(0, 1, 2, 3)
	// One view change took all four in: the absorbed pair came in whole,
	// vouched for by its coordinator's roster, not one by one.
	for i := range healed {
		for _, ev := range c.events[i][healed[i]:] {
			if ev.Kind == membership.ViewChange {
				if len(ev.View.Members) != 4 {
					t.Fatalf("member %d went through %v", i, ev.View)
				}
				break
			}
		}
	}
}

// A rekey gives the same members a new epoch, with new exported secrets.
func TestRekey(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	before := c.sameEpoch(0, 1, 2)
	e0 := c.parts[0].Epoch()
	x0, _ := c.parts[0].Export("app", nil, 32)
	c.members[1].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(0, 1, 2) && c.members[0].View().ID != v.ID })
	w := c.members[0].View()
	if !slices.Equal(w.Members, v.Members) {
		t.Fatalf("a rekey changed the members: %v to %v", v, w)
	}
	if c.sameEpoch(0, 1, 2) == before || c.parts[0].Epoch() != e0+1 {
		t.Fatalf("no new epoch: %d after %d", c.parts[0].Epoch(), e0)
	}
	for i := range 3 {
		x, err := c.parts[i].Export("app", nil, 32)
		if err != nil || bytes.Equal(x, x0) {
			t.Fatalf("member %d exports the old epoch's secret (%v)", i, err)
		}
	}
}

// RekeyDue follows the configured interval and counts.
func TestRekeyDue(t *testing.T) {
	p := &Participant{cfg: Config{RekeyInterval: time.Minute, RekeyMessages: 10, RekeyBytes: 1000}}
	for _, tc := range []struct {
		s   membership.ViewStats
		due bool
	}{
		{membership.ViewStats{}, false},
		{membership.ViewStats{Age: time.Minute}, true},
		{membership.ViewStats{Messages: 10}, true},
		{membership.ViewStats{Bytes: 1000}, true},
		{membership.ViewStats{Age: time.Second, Messages: 9, Bytes: 999}, false},
	} {
		if p.RekeyDue(membership.View{}, tc.s) != tc.due {
			t.Errorf("RekeyDue(%+v) = %v", tc.s, !tc.due)
		}
	}
	if (&Participant{}).RekeyDue(membership.View{}, membership.ViewStats{Age: time.Hour, Messages: 1 << 40}) {
		t.Error("a participant without a policy asks for rekeys")
	}
}

// A member cut off from the others goes on alone with a commit that
// removes them from its tree: its epoch number keeps increasing, and its
// epoch is none of theirs.
func TestAloneKeepsCounting(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	v := c.members[0].View()
	x := c.index(v.Members[2].Addr)
	e0 := c.parts[x].Epoch()
	before := c.sameEpoch(0, 1, 2)
	c.net.Partition([]netip.AddrPort{transport.Addr(x)})
	others := slices.DeleteFunc(seq(0, 3), func(i int) bool { return i == x })
	c.runUntil(5*time.Second, "the split", func() bool { return c.converged(x) && c.converged(others...) })
	alone := c.sameEpoch(x)
	if alone == before || alone == c.sameEpoch(others...) {
		t.Fatal("the member alone shares an epoch with the others")
	}
	if e := c.parts[x].Epoch(); e <= e0 {
		t.Fatalf("the member alone went from epoch %d to %d", e0, e)
	}
	if n := c.parts[x].cur.group.Tree().Members(); len(n) != 1 {
		t.Fatalf("the member alone keeps %d leaves", len(n))
	}
}

// The decider takes a joiner's key package only if it is signed by the
// signature key its roster entry names, under the identity the entry and
// the handshake name, and the admission check allows it.
func TestDecideChecksJoiners(t *testing.T) {
	c := newCluster(t)
	a, j, o := c.add(true), c.add(true), c.add(true)
	s := c.add(false)
	pa, pj := c.parts[a].Participant, c.parts[j].Participant
	e := c.members[j].Self()
	roster := pj.ownRoster()
	kp := func(i int) []byte {
		k, _, err := c.parts[i].newKeyPackage()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.Bytes()
		return b
	}
	hs := memberIdentity(pj.Identity())
	// The joiner's credential with another signature key: a key package
	// someone else made in its name.
	twin, err := New(pj.cfg)
	if err != nil {
		t.Fatal(err)
	}
	twinKP, _, err := twin.newKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	twinBytes, _ := twinKP.Bytes()
	if _, err := pa.checkJoiner(e, roster, kp(j), hs); err != nil {
		t.Fatalf("a genuine joiner refused: %v", err)
	}
	if _, err := pa.checkJoiner(e, roster, kp(j), membership.Identity{}); err != nil {
		t.Fatalf("a joiner vouched for by its coordinator's roster refused: %v", err)
	}
	for name, tc := range map[string]struct {
		roster []rosterEntry
		kp     []byte
		hs     membership.Identity
	}{
		"another member's key package":  {roster, kp(o), hs},
		"another signature key":         {roster, twinBytes, hs},
		"a handshake of another member": {roster, kp(j), memberIdentity(c.parts[o].Identity())},
		"no roster entry":               {nil, kp(j), hs},
		"no key package":                {roster, nil, hs},
		"a truncated key package":       {roster, kp(j)[:40], hs},
		"an identity not admitted":      {c.parts[s].ownRoster(), kp(s), hs},
	} {
		if name == "an identity not admitted" {
			tc.hs = memberIdentity(c.parts[s].Identity())
			e = c.members[s].Self()
		} else {
			e = c.members[j].Self()
		}
		if _, err := pa.checkJoiner(e, tc.roster, tc.kp, tc.hs); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// A responder refuses a roster that does not name the initiator with the
// identity its handshake proved.
func TestRosterMustNameInitiator(t *testing.T) {
	c := newCluster(t)
	a, b, o := c.add(true), c.add(true), c.add(true)
	pa, pb := c.parts[a].Participant, c.parts[b].Participant
	ea, eb := c.members[a].Self(), c.members[b].Self()
	nonce := []byte("0123456789abcdef")
	hb, _ := pb.Handshake(true, eb, ea, nonce)
	ha, _ := pa.Handshake(false, ea, eb, nonce)
	// b claims to be o at its own endpoint.
	forged := pb.ownRoster()
	forged[0].identity = c.parts[o].Identity()
	var err error
	if hb.(*handshake).roster, err = appendRoster(nil, forged); err != nil {
		t.Fatal(err)
	}
	m1, _, _ := hb.Create()
	if _, err := ha.Consume(m1); err != nil {
		t.Fatal(err)
	}
	m2, _, _ := ha.Create()
	if _, err := hb.Consume(m2); err != nil {
		t.Fatal(err)
	}
	m3, _, _ := hb.Create()
	if done, err := ha.Consume(m3); err == nil || done {
		t.Fatal("a roster naming the initiator with another identity was taken")
	}
	if eb2, _ := endpointBytes(eb); func() bool { _, ok := pa.rosters.entry(eb2); return ok }() {
		t.Fatal("the refused roster was kept")
	}
}

// A commit binds its view: a member refuses it for any other view (another
// id, another order of the members), and takes it for its own.
func TestCommitBoundToView(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	cur := c.members[0].View()
	dec := c.parts[c.index(cur.Members[0].Addr)].Participant
	next := cur.Clone()
	next.ID.LTime += 10
	d, err := dec.Decide(cur, next, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := c.parts[c.index(cur.Members[1].Addr)].Participant
	other := next.Clone()
	other.ID.LTime++
	swapped := next.Clone()
	swapped.Members[1], swapped.Members[2] = swapped.Members[2], swapped.Members[1]
	for _, v := range []membership.View{other, swapped} {
		if _, err := p.Process(v, d.Common, nil); err == nil {
			t.Fatalf("a commit for %v taken for %v", next, v)
		}
	}
	conf, err := p.Process(next, d.Common, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := dec.Verify(next, d.Common, cur.Members[1], conf); err != nil {
		t.Fatalf("a genuine confirmation refused: %v", err)
	}
	if dec.Verify(next, d.Common, cur.Members[1], append(slices.Clone(conf[:len(conf)-1]), conf[len(conf)-1]^1)) == nil {
		t.Fatal("a changed confirmation verified")
	}
	p.Discard(next)
	dec.Discard(next)
	if len(p.pending) != 0 || dec.commit != nil {
		t.Fatal("a discarded decision is kept")
	}
	// The group goes on from the epoch it shares.
	c.members[0].Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(0, 1, 2) && c.members[0].View().ID != cur.ID })
	c.sameEpoch(0, 1, 2)
}
