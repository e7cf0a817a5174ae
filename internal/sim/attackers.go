package sim

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/secure"
	"github.com/conclave-go/conclave/transport"
)

// The attackers of the secure group run with Config.Attackers and
// Config.Secure, beside the adversary of adversary.go, each drawing its
// choices from the seed:
//
//   - outsiders: two processes that run the membership protocol for real
//     and keep trying to join the group from the start of the run to its
//     end, by probing its members and asking to be merged in: one with a
//     Noise key that is not on the allow list (its handshake succeeds,
//     its admission must not), one with no credential at all (a plain
//     member, whose unsealed messages a secure member must not act on).
//     Neither may ever share a view with a member of the group, hold the
//     epoch of one of the group's views, or derive an epoch equal to one.
//     Beside them the adversary (adversary.go) probes and injects control
//     messages from strangers' addresses and replays recorded traffic from
//     the outsiders' addresses too;
//   - replays: sealed control messages that a member accepted are sent
//     to it again, from their sender's address, later (SecureAttackEvery):
//     each must be dropped (a replay, a view no longer current);
//   - ex-members: every process that left or crashed keeps its
//     participant (every key it held) and the authenticators of its last
//     views. It processes every commit of a later view that it is not in
//     (all travel in clear), with a member's own part of it: each must
//     fail. And it acts in later views: control messages (Suspect, Leave,
//     Wait) sealed with its old keys, in its old view or claiming a
//     member of the victim's current one: each must be dropped;
//   - insiders: a member of the current view forges another member's
//     Suspect or Leave, sealed with its own keys but claiming the other's
//     rank and endpoint, from the other's address: each must be dropped;
//   - the data plane's attackers (dataplane.go): ex-members and joiners
//     trying their kept keys on data datagrams of other views, outsiders
//     sending recorded data datagrams again, as recorded or altered;
//   - with Config.SenderAuth, insiders that forge and alter other
//     members' multicasts as their own retransmissions (signforger.go).
//
// Every attempt is counted by kind and by the reason it failed, in
// Result.Attempts: the drop or refusal counter the victim raised (the
// first by name; a stack layer's as layer.name), "commit refused: …" for
// an ex-member's participant refusing a commit, or "handled" for an
// unsealed datagram the victim took as it takes any stranger's or any
// duplicate, raising no such counter (a Probe it answered, a handshake
// message, an old retransmission). The adversary's datagrams (adversary.go)
// are counted the same way, as "stranger", "spoofed" and "recorded". A sealed forgery or replay that the victim does not
// drop is a violation ("accepted"); so is any commit an ex-member
// processes, and any epoch it or an outsider derives that equals one of
// the group's (Checker.Derived, Checker.Outsider). The group must still
// converge and deliver: the attackers must stall nothing.
const SecureAttackEvery = 5 * time.Millisecond

// Kinds of attackers, as Result.Attempts names them; the adversary's
// (adversary.go) are counted too.
const (
	AttackStranger   = "stranger" // the adversary's datagrams from strangers' addresses
	AttackSpoofed    = "spoofed"  // the adversary's stack datagrams in members' names
	AttackOutsider   = "outsider" // a Noise key not on the allow list
	AttackKeyless    = "keyless"  // no credential
	AttackReplay     = "replay"   // a sealed control message accepted before
	AttackRecorded   = "recorded" // the adversary's replays of recorded traffic
	AttackExMember   = "ex-member"
	AttackInsider    = "insider"
	AttackJoiner     = "joiner"      // a member reading what was sent before its first view
	AttackDataReplay = "data-replay" // a recorded data datagram sent again
	AttackDataForger = "data-forger" // a recorded data datagram altered
	// AttackSignForger and AttackSignAlter are signforger.go's.
)

// Attempt counts the attempts of one kind of attacker that ended for one
// reason.
type Attempt struct {
	Kind   string `json:"kind"`
	Reason string `json:"reason"`
	Count  int    `json:"count"`
}

const (
	sealedTapeSize  = 64
	sealedTapeEvery = 8 // one accepted sealed datagram in this many is taped
	maxPending      = 4096
)

// attackers is the state of the secure group's attackers.
type attackers struct {
	rng        *rand.Rand
	outsiders  []*outsiderProc
	ex         []*exMember
	tried      map[exTry]bool
	tape       []recorded // sealed datagrams a member accepted
	tapeAt     int
	taped      int
	pending    map[injectKey]string // attackers' datagrams sent: their kind
	attempts   map[attemptKey]int
	next       time.Duration
	forceToyEx bool // tests: run the ex-member and insider against the test participant
}

type exTry struct {
	p    int
	view membership.ViewID
}

type injectKey struct {
	from, to netip.AddrPort
	sum      uint64
}

type attemptKey struct{ kind, reason string }

// outsiderProc is an outsider: a process the run drives beside the group.
type outsiderProc struct {
	kind  string
	name  string
	self  membership.Endpoint
	m     *membership.Member
	part  *secure.Participant // nil without a credential
	state State
}

// exMember is a process that left or crashed, keeping its keys.
type exMember struct {
	p    int
	self membership.Endpoint
	part party
}

// outsiderAddr is outsider i's address, beside the strangers'.
func outsiderAddr(i int) netip.AddrPort {
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 66, 1, byte(1 + i)}), 7000)
}

func newAttackers(seed uint64) *attackers {
	return &attackers{
		rng:      rand.New(rand.NewPCG(mix(seed, streamOutsiders), seed)),
		tried:    make(map[exTry]bool),
		pending:  make(map[injectKey]string),
		attempts: make(map[attemptKey]int),
	}
}

// startOutsiders starts the outsiders, as the members start.
func (r *run) startOutsiders() {
	for i, kind := range []string{AttackOutsider, AttackKeyless} {
		o := &outsiderProc{kind: kind, name: kind, self: membership.Endpoint{Addr: outsiderAddr(i), Inc: 1 + r.sec.rng.Uint32()>>1}}
		mc := membership.Config{
			Self:   o.self,
			Group:  group,
			Seeds:  r.seeds,
			Layers: r.cfg.layers(),
			Seed:   mix(r.cfg.Seed, streamOutsiders, uint64(300+i)),
			Timing: Timing,
		}
		if r.log != nil {
			mc.Logger = slog.New(&protocolLog{r: r, name: o.name})
		}
		if kind == AttackOutsider {
			cred, _, err := r.credential(streamOutsiders, uint64(i))
			if err != nil {
				r.err = err
				return
			}
			sp, err := secure.New(r.secureConfig(cred, streamOutsiders, uint64(100+i), o.name))
			if err != nil {
				r.err = err
				return
			}
			o.part = sp
			mc.Participant = sp
			mc.Rand = seeded(mix(r.cfg.Seed, streamOutsiders, uint64(200+i)))
			r.checker.Outsider(o.name, sp)
		}
		m, err := membership.New(mc)
		if err != nil {
			r.err = err
			return
		}
		o.m = m
		r.sec.outsiders = append(r.sec.outsiders, o)
		r.logf("%s starts as %v", o.name, o.self)
		r.outsiderInput(o, inTick, netip.AddrPort{}, nil)
	}
}

func (a *attackers) outsiderAt(addr netip.AddrPort) *outsiderProc {
	for _, o := range a.outsiders {
		if o.self.Addr == addr {
			return o
		}
	}
	return nil
}

// outsiderInput gives an outsider one input and takes its outputs.
func (r *run) outsiderInput(o *outsiderProc, in int, from netip.AddrPort, data []byte) {
	if o.state != StateUp {
		return
	}
	ok := func() (ok bool) {
		defer func() {
			if v := recover(); v != nil {
				r.checker.violate("panic: %s in %s at %v: %v", o.name, inputNames[in], r.now, v)
				o.state = StateCrashed
				ok = false
			}
		}()
		switch in {
		case inReceive:
			o.m.Receive(from, data)
		case inTick:
			o.m.Tick(r.now)
		case inFlush:
			o.m.Flush()
		}
		return true
	}()
	if !ok {
		return
	}
	rd := o.m.Ready()
	if !r.draining {
		for _, pk := range rd.Packets {
			r.net.Send(r.now, o.self.Addr, pk.Addr, pk.Data)
		}
	}
	for i := range rd.Events {
		ev := &rd.Events[i]
		if ev.Kind != membership.ViewChange {
			continue
		}
		for _, e := range ev.View.Members {
			if q, member := r.byEnd[e]; member {
				r.checker.violate("%s: installed %s with member %d: it was admitted", o.name, r.checker.viewString(ev.View.ID, ev.View.Members), q)
				break
			}
		}
		if o.part != nil {
			if d, ok := o.part.EpochDigest(ev.View.ID); ok {
				r.checker.Derived(o.name, d)
			}
		}
	}
	o.m.Advance()
}

// driveOutsiders ticks or flushes every outsider.
func (r *run) driveOutsiders(in int) {
	for _, o := range r.sec.outsiders {
		r.outsiderInput(o, in, netip.AddrPort{}, nil)
	}
}

// deliver hands member p a datagram, accounting for it when an attacker
// sent it.
func (r *run) deliver(p int, d *transport.Delivery) {
	a := r.sec
	if a == nil {
		r.input(p, inReceive, d.From, d.Data)
		return
	}
	kind := ""
	if o := a.outsiderAt(d.From); o != nil {
		kind = o.kind
	}
	sealed := hostile.IsSealed(d.Data, group)
	var k injectKey
	if len(a.pending) > 0 {
		// Kept after the first delivery, the network's duplicates of an
		// attacker's datagram being its attempts too; but a recorded
		// datagram replayed from its source is the same as the
		// original, whose own duplicates are not the attacker's.
		k = injectKey{d.From, d.To, hash(d.Data)}
		if kd, ok := a.pending[k]; ok {
			kind = kd
			if kd == AttackRecorded || kd == AttackDataReplay {
				delete(a.pending, k)
			}
		}
	}
	tape := false
	if kind == "" && sealed {
		a.taped++
		tape = a.taped%sealedTapeEvery == 0
	}
	if kind == "" && !tape {
		r.input(p, inReceive, d.From, d.Data)
		return
	}
	before := r.controlCounters(p)
	data := d.Data
	if tape {
		data = slices.Clone(d.Data) // the member may keep what it is given
	}
	r.input(p, inReceive, d.From, d.Data)
	if r.procs[p].state != StateUp {
		return
	}
	reason := r.dropReason(p, before)
	if tape {
		if reason == "" {
			rec := recorded{from: d.From, to: d.To, data: data}
			if len(a.tape) < sealedTapeSize {
				a.tape = append(a.tape, rec)
			} else {
				a.tape[a.tapeAt] = rec
				a.tapeAt = (a.tapeAt + 1) % sealedTapeSize
			}
		}
		return
	}
	if kind == AttackSignForger || kind == AttackSignAlter {
		reason = r.forgeryReason(p, before, reason, k)
	}
	if kind == AttackSendForger {
		reason = r.sendForgeryReason(p, before, reason)
	}
	if reason == "" {
		reason = "handled"
		if kind == AttackDataForger {
			reason = "accepted"
			r.checker.violate("%s: member %d took an altered data datagram from %v at %v", kind, p, d.From, r.now)
		}
		if sealed && kind != AttackOutsider && kind != AttackKeyless {
			reason = "accepted"
			r.checker.violate("%s: member %d accepted a forged or replayed sealed control message (%s) from %v at %v", kind, p, controlName(d.Data), d.From, r.now)
		}
	}
	a.attempts[attemptKey{kind, reason}]++
}

func controlName(data []byte) string {
	name, _ := membership.ControlType(data, group)
	return name
}

// controlCounters is member p's counters, its stack's included: the
// membership protocol's by name, the layers' as layer.name.
func (r *run) controlCounters(p int) map[string]uint64 {
	out := make(map[string]uint64)
	for _, c := range r.procs[p].m.Counters() {
		if c.Layer == "membership" {
			out[c.Name] = c.Value
		} else {
			out[c.Layer+"."+c.Name] = c.Value
		}
	}
	return out
}

// refusals are the membership counters, beside drop.* and
// unauthenticated.*, that say a member refused what it was sent.
var refusals = []string{"admissions_refused", "admission_failed", "install_refused", "members_refused", "decisions_refused", "confirmations_failed"}

// dropReason names the counter member p raised since before that says it
// dropped or refused what it was sent ("" if none did), the first by
// name.
func (r *run) dropReason(p int, before map[string]uint64) string {
	var raised []string
	for name, v := range r.controlCounters(p) {
		base := name
		if _, after, layered := strings.Cut(name, "."); layered && !strings.HasPrefix(name, "drop.") && !strings.HasPrefix(name, "unauthenticated.") && !strings.HasPrefix(name, "ignored.") {
			base = after // a layer's: layer.drop.window
		}
		if v > before[name] && (strings.HasPrefix(base, "drop.") || strings.HasPrefix(base, "unauthenticated.") || strings.HasPrefix(base, "ignored.") || slices.Contains(refusals, base)) {
			raised = append(raised, name)
		}
	}
	if len(raised) == 0 {
		return ""
	}
	return slices.Min(raised)
}

// becameEx makes process p an ex-member, if its participant is one the
// ex-members attack with.
func (r *run) becameEx(p int) {
	a := r.sec
	if a == nil || r.procs[p].part == nil {
		return
	}
	if _, ok := r.procs[p].part.(*securePart); !ok && !a.forceToyEx {
		return
	}
	a.ex = append(a.ex, &exMember{p: p, self: r.procs[p].self, part: r.procs[p].part})
	r.logf("m%d is an ex-member from now on", p)
}

// observeCommit shows the decision of next, as member p received it, to
// the ex-members that are not in next: each tries to process it once.
func (r *run) observeCommit(p int, next membership.View, common, own []byte) {
	a := r.sec
	if a == nil || !r.attacks(AttackExMember) {
		return
	}
	for _, e := range a.ex {
		if next.Has(e.self) || a.tried[exTry{e.p, next.ID}] {
			continue
		}
		a.tried[exTry{e.p, next.ID}] = true
		name := fmt.Sprintf("ex-member m%d", e.p)
		_, err := processAs(e.part, r.procs[p].self, next, common, own)
		if err != nil {
			a.attempts[attemptKey{AttackExMember, "commit refused: " + commitReason(err)}]++
			continue
		}
		a.attempts[attemptKey{AttackExMember, "commit processed"}]++
		r.checker.violate("%s: processed the commit of %s, which it is not in", name, r.checker.viewString(next.ID, next.Members))
		if _, err := e.part.Install(next); err == nil {
			if d, ok := e.part.EpochDigest(next.ID); ok {
				r.checker.Derived(name, d)
			}
		}
	}
}

// processAs makes an ex-member's participant process a commit with the
// part of it meant for owner: its own Process, not the wrapper's that
// shows the commit to the ex-members. The test participant's parts are
// masked under the pre-shared key that every member ever held, so its
// ex-member unmasks owner's part as owner would (its Self set to owner):
// the attack that per-member keys defeat.
func processAs(pt party, owner membership.Endpoint, next membership.View, common, own []byte) ([]byte, error) {
	switch x := pt.(type) {
	case *securePart:
		return x.Participant.Process(next, common, own)
	case *participant:
		self := x.Participant.Self
		x.Participant.Self = owner
		defer func() { x.Participant.Self = self }()
		return x.Participant.Process(next, common, own)
	}
	return pt.Process(next, common, own)
}

// commitReason is a short name for why a participant refused a commit.
func commitReason(err error) string {
	switch {
	case errors.Is(err, keying.ErrRemoved):
		return "removed"
	case errors.Is(err, keying.ErrCommitPending):
		return "commit pending"
	}
	return "refused"
}

// lastAuth is the authenticator a participant was last given, if it
// keeps them.
func lastAuth(pt party) (viewAuth, bool) {
	switch x := pt.(type) {
	case *securePart:
		if len(x.auths) > 0 {
			return x.auths[len(x.auths)-1], true
		}
	case *participant:
		if len(x.auths) > 0 {
			return x.auths[len(x.auths)-1], true
		}
	}
	return viewAuth{}, false
}

// secureAttack makes one attack of the replayers, ex-members and
// insiders, when one is due.
func (r *run) secureAttack() {
	a := r.sec
	if r.now < a.next {
		return
	}
	a.next = r.now + SecureAttackEvery
	var up []int
	for p, pr := range r.procs {
		if pr.state == StateUp && !pr.m.Blocked() {
			up = append(up, p)
		}
	}
	if len(up) == 0 {
		return
	}
	kinds := 7
	if r.cfg.SenderAuth {
		kinds++ // the insiders that forge multicasts (signforger.go)
	}
	switch k := a.rng.IntN(kinds); {
	case k == 0 && r.attacks(AttackReplay):
		r.replaySealed()
	case k == 1 && r.attacks(AttackExMember):
		r.exMemberActs(up)
	case k == 2 && r.attacks(AttackInsider):
		r.insiderForges(up)
	case k == 3 && (r.attacks(AttackExMember) || r.attacks(AttackJoiner)) && r.data != nil:
		r.readData()
	case k == 4 && (r.attacks(AttackDataReplay) || r.attacks(AttackDataForger)) && r.data != nil:
		r.injectData()
	case k == 5 && r.attacks(AttackInsider) && r.data != nil:
		r.readSend()
	case k == 6 && r.attacks(AttackSendForger) && r.data != nil:
		r.armSendForgery()
	case k == 7 && (r.attacks(AttackSignForger) || r.attacks(AttackSignAlter)) && r.data != nil:
		r.armForgery()
	}
}

// attacks reports whether the attackers of kind are at work.
func (r *run) attacks(kind string) bool {
	return r.cfg.attackOnly == "" || r.cfg.attackOnly == kind
}

// injectForged sends a forged datagram, noting its kind for deliver.
func (r *run) injectForged(kind string, from, to netip.AddrPort, data []byte) {
	r.sec.mark(kind, from, to, data)
	r.res.Attacks++
	r.net.Send(r.now, from, to, data)
}

// mark notes that an attacker of kind sends data, so that deliver counts
// how it ends.
func (a *attackers) mark(kind string, from, to netip.AddrPort, data []byte) {
	if len(a.pending) >= maxPending {
		clear(a.pending) // lost ones linger; a few go uncounted
	}
	a.pending[injectKey{from, to, hash(data)}] = kind
}

// replaySealed sends a member a sealed message it accepted before.
func (r *run) replaySealed() {
	a := r.sec
	if len(a.tape) == 0 {
		return
	}
	rec := a.tape[a.rng.IntN(len(a.tape))]
	if p, ok := r.byAddr[rec.to]; !ok || r.procs[p].state != StateUp {
		return
	}
	r.logf("attack: replay of a sealed %s, %v → %v", controlName(rec.data), rec.from, rec.to)
	r.injectForged(AttackReplay, rec.from, rec.to, rec.data)
}

// forgedControl is a Suspect, Leave or Wait that from sends in view v. A
// Suspect names a member of v other than from (the victim, the forger,
// another: whom the forger would have excluded); a Leave would remove
// from.
func (r *run) forgedControl(from membership.Endpoint, v membership.View, routine bool) (hostile.ControlType, []byte) {
	c := hostile.Control{Group: group, From: from, View: v.ID}
	var others []membership.Endpoint
	for _, e := range v.Members {
		if e != from {
			others = append(others, e)
		}
	}
	switch {
	case routine:
		c.Type, c.Round = hostile.Wait, v.ID
	case len(others) > 0 && r.sec.rng.IntN(2) == 0:
		c.Type, c.Suspects = hostile.Suspect, []membership.Endpoint{others[r.sec.rng.IntN(len(others))]}
	default:
		c.Type = hostile.Leave
	}
	return c.Type, c.Append(nil)
}

// exMemberActs makes an ex-member send a control message sealed with its
// old keys to a live member: in its old view, or claiming a member of the
// victim's view.
func (r *run) exMemberActs(up []int) {
	a := r.sec
	if len(a.ex) == 0 {
		return
	}
	e := a.ex[a.rng.IntN(len(a.ex))]
	old, ok := lastAuth(e.part)
	if !ok {
		return
	}
	k := up[a.rng.IntN(len(up))]
	victim := r.procs[k]
	v := victim.m.View()
	if v.Has(e.self) {
		// The victim has not removed the process yet: its keys are
		// still the view's, and a crashed process's last messages may
		// still arrive.
		return
	}
	var env hostile.Envelope
	var typ hostile.ControlType
	var inner []byte
	from := e.self
	if a.rng.IntN(3) == 0 && r.procs[e.p].state == StateLeft {
		// In its old view, as itself, from its own address.
		env = hostile.Envelope{Group: group, From: e.self, View: old.view.ID.Wire(), Rank: old.rank, Seq: 1 + a.rng.Uint64N(1<<20)}
		typ, inner = r.forgedControl(e.self, old.view, false)
	} else {
		// In the victim's view, as one of its other members.
		if len(v.Members) < 2 {
			return
		}
		j := a.rng.IntN(len(v.Members) - 1)
		if j >= v.Rank(victim.self) {
			j++
		}
		from = v.Members[j]
		env = hostile.Envelope{Group: group, From: from, View: v.ID.Wire(), Rank: j, Seq: 1 + a.rng.Uint64N(1<<20)}
		typ, inner = r.forgedControl(from, v, a.rng.IntN(3) == 0)
	}
	data := env.Append(nil, inner, hostile.ClassOf(typ), old.a.Seal)
	r.logf("attack: ex-member m%d sends m%d a %v sealed with its keys of %s as %v", e.p, k, typ, r.checker.viewIDString(old.view.ID), from)
	r.injectForged(AttackExMember, from.Addr, victim.self.Addr, data)
}

// insiderForges makes a member forge another's Suspect or Leave to a
// third member of their view.
func (r *run) insiderForges(up []int) {
	a := r.sec
	i := up[a.rng.IntN(len(up))]
	in := r.procs[i]
	if _, ok := in.part.(*securePart); !ok && !a.forceToyEx {
		return
	}
	auth, ok := lastAuth(in.part)
	v := in.m.View()
	if !ok || auth.view.ID != v.ID || len(v.Members) < 3 {
		return
	}
	j := a.rng.IntN(len(v.Members) - 1)
	if j >= auth.rank {
		j++
	}
	var ks []int
	for k := range v.Members {
		if k != j && k != auth.rank {
			ks = append(ks, k)
		}
	}
	k := ks[a.rng.IntN(len(ks))]
	claimed := v.Members[j]
	typ, inner := r.forgedControl(claimed, v, false)
	env := hostile.Envelope{Group: group, From: claimed, View: v.ID.Wire(), Rank: j, Seq: 1 + a.rng.Uint64N(1<<20)}
	data := env.Append(nil, inner, hostile.ClassOf(typ), auth.a.Seal)
	r.logf("attack: insider m%d forges %s's %v to %s", i, r.checker.name(claimed), typ, r.checker.name(v.Members[k]))
	r.injectForged(AttackInsider, claimed.Addr, v.Members[k].Addr, data)
}

// attemptList is the attempts counted, sorted by kind and reason.
func (a *attackers) attemptList() []Attempt {
	out := make([]Attempt, 0, len(a.attempts))
	for k, n := range a.attempts {
		out = append(out, Attempt{Kind: k.kind, Reason: k.reason, Count: n})
	}
	slices.SortFunc(out, func(x, y Attempt) int {
		if x.Kind != y.Kind {
			return strings.Compare(x.Kind, y.Kind)
		}
		return strings.Compare(x.Reason, y.Reason)
	})
	return out
}
