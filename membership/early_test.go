package membership_test

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
)

// earlyDecider is a test participant whose survivors contribute nothing,
// as the secure participant's: only the joiners and, when there are
// joiners, the coordinator contribute their names.
type earlyDecider struct {
	*membershiptest.Participant
	member *membership.Member
	// contributeAnyway makes this member contribute its name as a
	// survivor too, against the contract it declares.
	contributeAnyway bool
	// decided, if set, is called at each Decide.
	decided func()
}

func (p *earlyDecider) SurvivorsContributeNothing() bool { return true }

func (p *earlyDecider) Contribute(next membership.View) []byte {
	if p.member == nil {
		// Its first view, alone, made inside membership.New.
		return p.Participant.Contribute(next)
	}
	cur := p.member.View()
	survivor := cur.Has(p.Self) && cur.Has(next.ID.Coord)
	joiners := slices.ContainsFunc(next.Members, func(e membership.Endpoint) bool { return !cur.Has(e) })
	if survivor && !p.contributeAnyway && (next.ID.Coord != p.Self || !joiners) {
		return nil
	}
	return p.Participant.Contribute(next)
}

func (p *earlyDecider) Decide(cur, next membership.View, contributions map[membership.Endpoint][]byte, joiners map[membership.Endpoint]membership.Identity) (membership.Decision, error) {
	if p.decided != nil {
		p.decided()
	}
	return p.Participant.Decide(cur, next, contributions, joiners)
}

// earlyGroup is a group whose members' participants are earlyDeciders.
type earlyGroup struct {
	*group
	ps []*earlyDecider
}

// newEarlyGroup returns an earlyGroup of n members in one view, the
// decision delegated when delegate is set.
func newEarlyGroup(t *testing.T, n int, delegate bool) *earlyGroup {
	g := &earlyGroup{group: newGroup(t)}
	g.configure = func(_ int, p *membershiptest.Participant, cfg *membership.Config) {
		p.Delegate = delegate
		e := &earlyDecider{Participant: p}
		g.ps = append(g.ps, e)
		cfg.Participant = e
	}
	for range n {
		g.addEarly()
	}
	g.runUntil(3*time.Second, "one view", func() bool { return g.converged(upTo(n)...) })
	return g
}

// addEarly adds a member, its participant serving it.
func (g *earlyGroup) addEarly() {
	// The participant asks its member for the view only in a round,
	// after New returned it.
	g.add()
	g.ps[len(g.members)-1].member = g.members[len(g.members)-1]
}

func (g *earlyGroup) discarded() int {
	n := 0
	for _, p := range g.ps {
		n += p.Discarded()
	}
	return n
}

// controlLog records the control messages the members send each other,
// in the order they leave (before group.drop: those it loses too).
type controlLog struct {
	all []logged
}

type logged struct {
	from, to netip.AddrPort
	name     string
}

func (l *controlLog) index(pred func(logged) bool) int { return slices.IndexFunc(l.all, pred) }

func tapControl(g *group) *controlLog {
	l := &controlLog{}
	g.tap = func(from, to netip.AddrPort, data []byte) {
		if name, ok := membership.ControlType(data, 42); ok {
			l.all = append(l.all, logged{from, to, name})
		}
	}
	return l
}

func is(name string, from, to netip.AddrPort) func(logged) bool {
	return func(x logged) bool {
		return x.name == name && (!from.IsValid() || x.from == from) && (!to.IsValid() || x.to == to)
	}
}

var anyAddr netip.AddrPort

// TestEarlyDeciderAskedBesideTheFlush: with an EarlyDecider and no
// joiners, the coordinator asks the delegated decider with the Flush,
// before any member's FlushOK is in; the round installs one epoch
// everywhere.
func TestEarlyDeciderAskedBesideTheFlush(t *testing.T) {
	g := newEarlyGroup(t, 4, true)
	v := g.members[0].View()
	coord := v.Members[0].Addr
	l := tapControl(g.group)
	g.members[g.index(v.Members[0])].Rekey()
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	ask := l.index(is("DecideReq", coord, anyAddr))
	flushOK := l.index(func(x logged) bool { return x.name == "FlushOK" && x.to == coord && x.from != coord })
	if ask < 0 || flushOK < 0 || ask > flushOK || l.index(is("Flush", coord, anyAddr)) > ask {
		t.Fatalf("the decider was not asked beside the Flush: DecideReq at %d, first FlushOK at %d: %v", ask, flushOK, l.all)
	}
	if n := g.total("early_decision_fallbacks"); n != 0 {
		t.Fatalf("%d fallbacks in a round where no survivor contributes", n)
	}
}

// TestEarlyDecisionByTheCoordinator: a coordinator that decides itself
// decides early too, after its Flush has left (Continue) and before any
// other member's FlushOK is in; it processes its own Prepare only once
// every other member has had its own.
func TestEarlyDecisionByTheCoordinator(t *testing.T) {
	g := newEarlyGroup(t, 4, false)
	v := g.members[0].View()
	coord := g.index(v.Members[0])
	l := tapControl(g.group)
	flushesOut, flushOKsIn := -1, -1
	g.ps[coord].decided = func() {
		if flushesOut < 0 {
			flushesOut = len(slices.DeleteFunc(slices.Clone(l.all), func(x logged) bool { return !is("Flush", v.Members[0].Addr, anyAddr)(x) }))
			flushOKsIn = len(slices.DeleteFunc(slices.Clone(l.all), func(x logged) bool { return !is("FlushOK", anyAddr, v.Members[0].Addr)(x) }))
		}
	}
	preparesOut := -1
	g.ps[coord].Refuse = func(membership.View) bool {
		if preparesOut < 0 {
			preparesOut = len(slices.DeleteFunc(slices.Clone(l.all), func(x logged) bool { return !is("Prepare", v.Members[0].Addr, anyAddr)(x) }))
		}
		return false
	}
	g.members[coord].Rekey()
	g.drain(coord)
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	if flushesOut != len(v.Members)-1 || flushOKsIn != 0 {
		t.Fatalf("the coordinator decided after %d of %d Flushes left and %d FlushOKs came in", flushesOut, len(v.Members)-1, flushOKsIn)
	}
	if preparesOut != len(v.Members)-1 {
		t.Fatalf("the coordinator processed its own Prepare after %d of the %d others left", preparesOut, len(v.Members)-1)
	}
}

// TestEarlyDeciderWaitsForTheJoiner: with a joiner, the decider is asked
// once the joiner's FlushOK is in, not before, and before a survivor
// whose FlushOK is late has flushed.
func TestEarlyDeciderWaitsForTheJoiner(t *testing.T) {
	g := newEarlyGroup(t, 3, true)
	v := g.members[0].View()
	coord := v.Members[0].Addr
	late := v.Members[1].Addr
	l := tapControl(g.group)
	g.drop = func(from, to netip.AddrPort, data []byte) bool {
		// The late survivor's FlushOKs are lost until the decider has
		// been asked.
		name, _ := membership.ControlType(data, 42)
		return from == late && to == coord && name == "FlushOK" && l.index(is("DecideReq", coord, anyAddr)) < 0
	}
	g.addEarly()
	joiner := g.members[3].Self().Addr
	g.runUntil(3*time.Second, "one view of 4", func() bool { return g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	ask := l.index(is("DecideReq", coord, anyAddr))
	joined := l.index(is("FlushOK", joiner, coord))
	if ask < 0 || joined < 0 || ask < joined {
		t.Fatalf("the decider was asked before the joiner flushed: DecideReq at %d, the joiner's FlushOK at %d: %v", ask, joined, l.all)
	}
	if g.counter(g.index(v.Members[0]), "decided_early") == 0 {
		t.Fatal("the round with a joiner was not decided early")
	}
}

// TestEarlyDecisionPreparesFlushedMembersAtOnce: a Decision that comes
// while a member still flushes goes at once in Prepare to the members
// that have flushed, before the Sync, and to the late one only once its
// FlushOK is in; the round installs one epoch everywhere.
func TestEarlyDecisionPreparesFlushedMembersAtOnce(t *testing.T) {
	g := newEarlyGroup(t, 4, true)
	v := g.members[0].View()
	coord := v.Members[0].Addr
	late := v.Members[1].Addr
	l := tapControl(g.group)
	g.drop = func(from, to netip.AddrPort, data []byte) bool {
		// The late member's FlushOKs are lost until the decision is in.
		name, _ := membership.ControlType(data, 42)
		return from == late && to == coord && name == "FlushOK" && l.index(is("Decision", anyAddr, coord)) < 0
	}
	g.members[g.index(v.Members[0])].Rekey()
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	decision := l.index(is("Decision", anyAddr, coord))
	sync := l.index(is("Sync", coord, anyAddr))
	if decision < 0 || sync < decision {
		t.Fatalf("the decision did not come during the flush: Decision at %d, Sync at %d: %v", decision, sync, l.all)
	}
	for _, e := range v.Members[1:] {
		prep := l.index(is("Prepare", coord, e.Addr))
		switch {
		case e.Addr == late:
			// Its first FlushOK to get through is the last to come.
			if lastOK := slices.IndexFunc(l.all[decision:], is("FlushOK", late, coord)); prep < 0 || lastOK < 0 || prep < decision+lastOK {
				t.Fatalf("the late member got its Prepare at %d, before its FlushOK: %v", prep, l.all)
			}
		case prep < 0 || prep > sync:
			t.Fatalf("member %v got its Prepare at %d, after the Sync at %d: %v", e, prep, sync, l.all)
		}
		// A Confirm that comes before the Sync is kept: none is asked
		// for again.
		confirms := 0
		for _, x := range l.all {
			if is("Confirm", e.Addr, coord)(x) {
				confirms++
			}
		}
		if confirms != 1 {
			t.Fatalf("member %v confirmed %d times: %v", e, confirms, l.all)
		}
	}
}

// TestRoundRestartedDuringEarlyDecision: a member crashes before it
// flushes; the decision comes and is processed by the members that
// flushed, the round restarts without the crashed member, and the
// decision of the abandoned round is discarded: the survivors install
// one epoch, the second round's.
func TestRoundRestartedDuringEarlyDecision(t *testing.T) {
	g := newEarlyGroup(t, 4, true)
	v := g.members[0].View()
	coord := g.index(v.Members[0])
	l := tapControl(g.group)
	discarded := g.discarded()
	g.members[coord].Rekey()
	g.drain(coord)
	crashed := g.index(v.Members[2])
	g.crash(crashed)
	var live []int
	for i := range 4 {
		if i != crashed {
			live = append(live, i)
		}
	}
	g.runUntil(time.Second, "the survivors' view", func() bool { return g.converged(live...) })
	g.sameEpoch(live...)
	after := g.discarded()
	if g.counter(coord, "rounds_restarted") == 0 {
		t.Fatal("the round did not restart")
	}
	if after <= discarded || l.index(is("Prepare", v.Members[0].Addr, anyAddr)) > l.index(is("Sync", v.Members[0].Addr, anyAddr)) {
		t.Fatalf("no decision processed during the flush of the abandoned round (%d discarded before, %d after): %v", discarded, after, l.all)
	}
}

// TestSurvivorContributionFallsBackToALateDecision: a survivor that
// contributes after all restarts the round decided early; the round
// after it asks the decider only once every member has flushed, with
// every contribution, and installs one epoch everywhere.
func TestSurvivorContributionFallsBackToALateDecision(t *testing.T) {
	g := newEarlyGroup(t, 4, true)
	v := g.members[0].View()
	coord := g.index(v.Members[0])
	g.ps[g.index(v.Members[2])].contributeAnyway = true
	l := tapControl(g.group)
	g.members[coord].Rekey()
	g.runUntil(time.Second, "a new view", func() bool { return g.members[0].View().ID != v.ID && g.converged(upTo(4)...) })
	g.sameEpoch(upTo(4)...)
	if n := g.counter(coord, "early_decision_fallbacks"); n != 1 {
		t.Fatalf("%d fallbacks, want 1", n)
	}
	// The last DecideReq (the restarted round's) comes after every
	// member's last FlushOK.
	var lastAsk, lastOK int
	for i, x := range l.all {
		switch {
		case is("DecideReq", v.Members[0].Addr, anyAddr)(x):
			lastAsk = i
		case is("FlushOK", anyAddr, v.Members[0].Addr)(x):
			lastOK = i
		}
	}
	if lastAsk < lastOK {
		t.Fatalf("the restarted round was decided early: last DecideReq at %d, last FlushOK at %d: %v", lastAsk, lastOK, l.all)
	}
	// The decision names the members by their contributions: the one
	// that contributed is named.
	nv := g.members[coord].View()
	ids, _, ok := g.ps[coord].Describe(nv)
	if r := nv.Rank(v.Members[2]); !ok || ids[r].Name != g.ps[g.index(v.Members[2])].Name {
		t.Fatalf("the decision was made without the survivor's contribution: %v", ids)
	}
}

// TestEarlyDeciderRefusingDuringTheFlush: a delegated decider asked early
// that cannot decide for a joiner refuses while a survivor still flushes;
// the coordinator takes the refusal as in the decide phase: it restarts
// the round without the joiner, holding nothing against the decider, and
// the members install one epoch without it.
func TestEarlyDeciderRefusingDuringTheFlush(t *testing.T) {
	g := newEarlyGroup(t, 3, true)
	for _, p := range g.ps {
		p.RefuseJoiner = func(_ membership.Endpoint, contribution []byte) bool { return string(contribution) == "m3" }
	}
	v := g.members[0].View()
	coord := v.Members[0].Addr
	late := v.Members[1].Addr
	l := tapControl(g.group)
	g.drop = func(from, to netip.AddrPort, data []byte) bool {
		// The late survivor's FlushOKs are lost until the decider has
		// refused.
		name, _ := membership.ControlType(data, 42)
		return from == late && to == coord && name == "FlushOK" && l.index(is("Refuse", anyAddr, coord)) < 0
	}
	g.addEarly()
	g.runUntil(3*time.Second, "the decider refusing the joiner", func() bool { return g.total("decider_refusals") > 0 })
	g.runUntil(3*time.Second, "a new view of the 3 without the joiner", func() bool {
		return g.converged(upTo(3)...) && g.members[0].View().ID != v.ID
	})
	g.sameEpoch(upTo(3)...)
	// (The log shows the datagrams dropped too.) Every member flushed
	// only after the refusal: the first Sync comes after it.
	refused := l.index(is("Refuse", anyAddr, coord))
	if sync := l.index(is("Sync", coord, anyAddr)); refused < 0 || sync < refused {
		t.Fatalf("the decider refused at %d, the first Sync went at %d: %v", refused, sync, l.all)
	}
	if n := g.total("members_refused") + g.total("decider_timeouts") + g.total("flush_timeouts"); n != 0 {
		t.Fatalf("%d members left out for the joiner's refusal", n)
	}
}

// TestSilentEarlyDeciderIsLeftOut: a decider asked beside the flush that
// flushes but never answers (its DecideReqs are lost, the first and every
// one repeated) is left out once the round has waited Timing.Flush in
// its decide phase, as a silent decider always was; the others install
// one epoch without it.
func TestSilentEarlyDeciderIsLeftOut(t *testing.T) {
	g := newEarlyGroup(t, 4, true)
	v := g.members[0].View()
	coord := v.Members[0].Addr
	decider := g.index(v.Members[len(v.Members)-1])
	l := tapControl(g.group)
	g.drop = func(from, to netip.AddrPort, data []byte) bool {
		name, _ := membership.ControlType(data, 42)
		return from == coord && to == v.Members[len(v.Members)-1].Addr && name == "DecideReq"
	}
	g.members[g.index(v.Members[0])].Rekey()
	var live []int
	for i := range 4 {
		if i != decider {
			live = append(live, i)
		}
	}
	g.runUntil(time.Second, "a view without the silent decider", func() bool { return g.converged(live...) })
	g.sameEpoch(live...)
	if n := g.counter(g.index(v.Members[0]), "decider_timeouts"); n != 1 {
		t.Fatalf("decider_timeouts = %d, want 1", n)
	}
	asks := 0
	for _, x := range l.all {
		if is("DecideReq", coord, v.Members[len(v.Members)-1].Addr)(x) {
			asks++
		}
	}
	if asks < 2 {
		t.Fatalf("the silent decider was asked %d times", asks)
	}
}
