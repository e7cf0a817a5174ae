package sim

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// MaxMembers bounds Config.Members.
const MaxMembers = 64

// Defaults for Config fields left zero.
const (
	DefaultStep   = 500 * time.Microsecond
	DefaultActive = 500 * time.Millisecond
	// DefaultChurnActive is the active phase with membership faults: long
	// enough for several of them, each taking a view change or two.
	DefaultChurnActive = 3 * time.Second
	DefaultConverge    = 10 * time.Second
	DefaultDeadline    = 10 * time.Second
)

// Timing is the membership protocol's timing in every simulated member, in
// virtual time. Suspect is twenty stability gossips (every 5ms), so that
// even 20% loss does not make a live member look dead; the rest follows
// DefaultTiming's proportions, scaled down to keep runs short.
var Timing = membership.Timing{
	Suspect: 100 * time.Millisecond,
	Retry:   10 * time.Millisecond,
	Flush:   150 * time.Millisecond,
	Probe:   50 * time.Millisecond,
	Merge:   300 * time.Millisecond,
	Stuck:   time.Second,
}

// Settle is how long the group must stay converged before a phase ends
// (formation, quiet): a member that went unheard for a while (a partition
// that just healed) may still be suspected for up to Timing.Suspect, and
// the view it is in is not yet the one the group settles on.
const Settle = 200 * time.Millisecond // twice Timing.Suspect

// FinalCasts is how many multicasts each live member sends in the final
// round; it also sends one message to each other member.
const FinalCasts = 5

// RekeyInterval is how long, with Config.Participant, the participants let
// a view last during the active phase before they ask for a rekey round.
const RekeyInterval = 150 * time.Millisecond

// maxBacklog is the member backlog above which the workload waits, as a
// real application would when its sends block.
const maxBacklog = 256

// maxDrain bounds the drain at the end of a run.
const maxDrain = time.Second

// group is the group identifier every simulated member carries.
const group = 0x636f6e636c617665 // "conclave"

// Config describes one run. Run is a pure function of it.
type Config struct {
	Seed     uint64 // drives everything: workload, faults, members
	Members  int    // initial group size, 1 … MaxMembers
	Messages int    // multicasts per member during the active phase
	Sends    int    // point-to-point messages per member during the active phase
	Faults   Faults
	Total    bool // members run the total order stack (compose.Total)
	// Attackers runs an adversary beside the group: hostile datagrams
	// from strangers and in members' names, replays, and the checks of
	// what they must not achieve (see adversary.go).
	Attackers bool
	// Participant gives every member membershiptest's participant:
	// admission by handshake, a decision (a toy key agreement) prepared,
	// confirmed and installed in every view change, control messages
	// under each view's MAC, and rekey rounds during the active phase;
	// the Checker then also checks the decisions (Decisions).
	Participant bool
	// Secure gives every member membership/secure's participant (see
	// secure.go): admission by Noise handshake against the allow list of
	// the run's keys, an MLS epoch committed, confirmed and installed in
	// every view change, control messages signed or MACed under the
	// view's epoch, and rekey rounds during the active phase; the
	// Checker then checks the epochs (Decisions). With Attackers the
	// adversary also runs the attackers of the secure group
	// (attackers.go).
	Secure bool
	// SenderAuth, with Secure, adds the sign layer above mnak: every
	// multicast is signed by its sender, so that no member can forge
	// another's (layers/sign).
	SenderAuth bool
	// attackToy runs the secure group's attackers against the test
	// participant, which has no per-member keys and no forward secrecy:
	// tests show with it that the attackers' checks fail without the
	// protection.
	attackToy bool
	// admitAll makes the secure group's admission check admit every
	// identity: tests show with it that the outsiders' check fails
	// without the allow list.
	admitAll bool
	// attackOnly, if set, runs only that kind of the secure group's
	// attackers (the outsiders run regardless): tests isolate one.
	attackOnly string
	// readOwnViews lets the ex-members and joiners try their keys on data
	// datagrams of their own views too, which must open: tests show with
	// it that the readers rebuild datagrams as the encrypt layer does.
	readOwnViews bool
	// sharedSenderKey makes the nonce check take every member for the
	// same sender, as if the group sealed under one key: tests show with
	// it that the check finds reused nonces.
	sharedSenderKey bool
	// plainData leaves encrypt and private out of a secured run's stacks:
	// tests show with it that the data attackers' checks fail without
	// them.
	plainData bool
	// plainSends leaves private out of a secured run's stacks: tests show
	// with it that the insiders read Sends without it.
	plainSends bool
	// noSign leaves sign out of the stacks of a run with SenderAuth, whose
	// insiders still forge multicasts: tests show with it that the
	// Checker reports the forgeries sign drops.
	noSign bool

	Step   time.Duration // virtual clock step; DefaultStep when zero
	Active time.Duration // the active phase; DefaultActive, or DefaultChurnActive with membership faults, when zero
	// Converge bounds formation, and convergence once the membership
	// faults stop: the liveness bound; DefaultConverge when zero.
	Converge time.Duration
	// Deadline bounds the final round: what must be delivered is by
	// Deadline after the group converged; DefaultDeadline when zero.
	Deadline time.Duration
}

// WithDefaults returns c with zero durations replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Step == 0 {
		c.Step = DefaultStep
	}
	if c.Active == 0 {
		c.Active = DefaultActive
		if c.Faults.Membership() {
			c.Active = DefaultChurnActive
		}
	}
	if c.Converge == 0 {
		c.Converge = DefaultConverge
	}
	if c.Deadline == 0 {
		c.Deadline = DefaultDeadline
	}
	return c
}

// Validate reports what is wrong with c, after defaults.
func (c Config) Validate() error {
	c = c.WithDefaults()
	switch {
	case c.Members < 1 || c.Members > MaxMembers:
		return fmt.Errorf("sim: %d members; want 1 to %d", c.Members, MaxMembers)
	case c.Messages < 0 || c.Sends < 0:
		return errors.New("sim: negative message count")
	case c.Step < 0 || c.Active < 0 || c.Converge < 0 || c.Deadline < 0:
		return errors.New("sim: negative duration")
	case c.Participant && c.Secure:
		return errors.New("sim: one participant: the test one or the secure one")
	case c.SenderAuth && !c.Secure:
		return errors.New("sim: sender authentication needs the secure participant's keys")
	}
	return nil
}

func (c Config) layers() []string {
	names := compose.Reliable
	if c.Total {
		names = compose.Total
	}
	if c.Secure && !c.plainData {
		names = securedLayers(names, c.SenderAuth && !c.noSign, c.plainSends)
	}
	return names
}

// Result is what a run found. With its Config it is everything needed to
// replay the run: the same Config gives the same Result.
type Result struct {
	Config      Config        // as run, defaults filled in
	Violations  []string      // empty when every invariant held
	Sent        int           // messages the workload sent, casts and sends
	Delivered   int           // deliveries to the members' applications
	VirtualTime time.Duration // when the run stopped
	Formed      time.Duration // when the initial members first shared one view
	// Converged is how long after the membership faults stopped the live
	// members shared one view for good (one Step when they never parted).
	Converged time.Duration
	Views     int // distinct views installed
	Crashes   int
	Restarts  int
	Joins     int
	Leaves    int
	// Partitions counts the network splits.
	Partitions int
	// Trace hashes every event (time, member, type, contents) in order,
	// and the network's statistics: two runs with the same Trace behaved
	// the same.
	Trace   uint64
	Net     transport.NetStats
	Drops   uint64 // the members' drop counters, summed
	Attacks int    // hostile datagrams the adversary sent
	// With Config.Participant: Decided counts the views whose decision
	// the Checker checked (every view installed, when all is well), and
	// Rekeys the rekey rounds the coordinators started.
	Decided int
	Rekeys  int
	// Attempts counts, with Config.Secure and Config.Attackers, the
	// attackers' attempts by kind and by the reason each failed
	// (attackers.go), sorted.
	Attempts []Attempt
	// With Config.SenderAuth: Forged counts the multicasts delivered that
	// their claimed sender did not multicast at that index (each also a
	// violation); Denied the insiders' forgeries that their target kept,
	// in the place of a message of their victim's stream, which the
	// target's sign layer then refused, so that the real message was
	// fetched again (signforger.go). The target must still deliver every
	// message of the stream: the Checker excuses nothing.
	// SignVerified and SignRefused count the batches the members' sign
	// layers verified, and the times they refused what they held of a
	// stream (a signature that failed, a batch that did not cover what
	// was held, a copy overtaken or settled at the cut, …), over every
	// view.
	Forged       int
	Denied       int
	SignVerified uint64
	SignRefused  uint64
	Members      []Member // each process's state at the end, by number
}

// Member is one process's state at the end of a run.
type Member struct {
	Endpoint membership.Endpoint
	State    State
	View     membership.ViewID
	Backlog  int
	Counters []layers.Counter // sorted by layer and name
}

// State is a simulated process's state.
type State uint8

// States of a process.
const (
	StateUp      State = iota // running
	StateCrashed              // crashed: no longer driven, its address detached
	StateLeft                 // left the group (Left): no longer driven
)

func (s State) String() string {
	switch s {
	case StateUp:
		return "up"
	case StateCrashed:
		return "crashed"
	case StateLeft:
		return "left"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// OK reports whether the run found no violation.
func (r *Result) OK() bool { return len(r.Violations) == 0 }

// Run simulates one group under cfg and checks it. It returns an error
// only for an invalid Config; what goes wrong in the group is in
// Result.Violations.
func Run(cfg Config) (Result, error) { return RunLog(cfg, nil) }

// RunLog is Run that also writes to log, when not nil, everything that
// happens: every member's events, consents and sends, the faults, the
// phases, and at the end each member's counters. It is for debugging one
// seed.
func RunLog(cfg Config, log io.Writer) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	r := newRun(cfg, log)
	if err := r.run(); err != nil {
		return Result{}, err
	}
	return r.result(), nil
}

// phase is where a run is.
//
//	forming ──one view──▶ active ──Active──▶ quiet ──one view──▶ final ──all delivered──▶ drain ──▶ done
//	   └──────────────────── Converge ─────────┴──────── Deadline ──┘ (a violation) ──────────────▶ done
type phase uint8

const (
	phaseForming phase = iota // the initial members find each other
	phaseActive               // workload and membership faults
	phaseQuiet                // membership faults over: the group must converge
	phaseFinal                // every live member casts; all must deliver
	phaseDrain                // nothing new on the network; what is in flight arrives
	phaseDone
)

func (p phase) String() string {
	return [...]string{"forming", "active", "quiet", "final", "drain", "done"}[p]
}

// proc is one simulated process: a member and what the run drives it with.
type proc struct {
	m       *membership.Member
	part    party // with Config.Participant or Config.Secure
	self    membership.Endpoint
	state   State
	leaving bool // called Leave
	initial bool
	ops     []op
	next    int   // the next op
	casts   int   // casts sent
	sends   []int // sends sent, by destination process
	// stack is its stack last seen, with Config.SenderAuth, whose sign
	// counters the run adds up when the next replaces it (tallySign).
	stack *layers.Stack
}

// run is the state of one simulation.
type run struct {
	cfg     Config
	net     *transport.Network
	faults  *rand.Rand // membership faults
	work    *rand.Rand // workloads
	procs   []*proc
	byAddr  map[netip.AddrPort]int // the process at an address now
	byEnd   map[membership.Endpoint]int
	seeds   []netip.AddrPort // the initial members' addresses
	addrs   int              // addresses handed out
	checker *Checker
	trace   trace
	log     io.Writer
	now     time.Duration
	due     []transport.Delivery
	to      membership.Endpoint // the destination of the send being input
	res     Result
	err     error

	phase     phase
	phaseAt   time.Duration // when the phase began
	activeEnd time.Duration
	strict    bool // no membership faults: everything sent must reach everyone
	final     []int
	stable    time.Duration // since when the group has converged; -1 if not
	draining  bool
	churn     churn
	adv       *adversary // nil unless Config.Attackers
	sec       *attackers // nil unless Config.Attackers and Config.Secure
	data      *dataPlane // nil unless Config.Secure
	// rekeyEvery is the participants' RekeyEvery: rekey rounds during
	// the active phase only, so that the group can settle before and
	// after it.
	rekeyEvery int
	// allowed is the secure group's allow list: the Noise identity
	// names of its processes.
	allowed map[string]bool
	// signVerified and signRefused add up the sign layers' batches of
	// the stacks replaced so far (tallySign).
	signVerified, signRefused uint64
	// kept counts the forgeries their target kept (forgeryReason).
	kept int
}

// Independent streams of randomness derived from the seed.
const (
	streamMembers = iota + 1
	streamNetwork
	streamWorkload
	streamFaults
	streamAttack
	streamParticipant
	streamCookies
	streamCredentials
	streamOutsiders
)

func newRun(cfg Config, log io.Writer) *run {
	r := &run{
		cfg:     cfg,
		net:     transport.NewNetwork(mix(cfg.Seed, streamNetwork), cfg.Faults.Network()),
		faults:  rand.New(rand.NewPCG(mix(cfg.Seed, streamFaults), cfg.Seed)),
		work:    rand.New(rand.NewPCG(mix(cfg.Seed, streamWorkload), cfg.Seed)),
		byAddr:  make(map[netip.AddrPort]int),
		byEnd:   make(map[membership.Endpoint]int),
		checker: NewChecker(cfg.Total),
		trace:   trace(fnvOffset),
		log:     log,
		strict:  !cfg.Faults.Membership(),
		stable:  -1,
		allowed: make(map[string]bool),
	}
	if cfg.Secure {
		r.data = newDataPlane()
	}
	if cfg.SenderAuth {
		r.checker.SenderAuth()
	}
	if cfg.Attackers {
		r.adv = newAdversary(cfg.Seed)
		r.net.KeepFlows()
		if cfg.Secure || cfg.attackToy {
			r.sec = newAttackers(cfg.Seed)
			r.sec.forceToyEx = cfg.attackToy
		}
	}
	return r
}

// run steps the clock through the phases.
func (r *run) run() error {
	for i := range r.cfg.Members {
		r.seeds = append(r.seeds, transport.Addr(i))
	}
	for range r.cfg.Members {
		r.start(r.newAddr(), true)
	}
	if r.sec != nil {
		r.startOutsiders()
	}
	r.logf("forming: %d members", r.cfg.Members)
	for r.phase != phaseDone && r.err == nil {
		r.now += r.cfg.Step
		if r.phase == phaseActive {
			r.disrupt()
		}
		r.receive()
		r.tick()
		r.inject()
		r.flush()
		if r.attacking() {
			r.attack()
		}
		r.advance()
	}
	if r.err != nil {
		return r.err
	}
	r.checker.Finish(r.explain)
	r.logEnd()
	return nil
}

// advance moves the run to its next phase when the current one is over.
func (r *run) advance() {
	since := r.now - r.phaseAt
	switch r.phase {
	case phaseForming:
		if r.settled() {
			r.res.Formed = r.stable
			r.enter(phaseActive, "formed %s", r.viewOf(0))
			r.rekeys(int(RekeyInterval / r.cfg.Step))
			r.activeEnd = r.now + r.cfg.Active
			for p := range r.procs {
				r.procs[p].ops = workload(r.work, r.cfg.Messages, r.cfg.Sends, r.now, r.activeEnd)
			}
			r.churn.next = r.now + r.churnGap()
		} else if since >= r.cfg.Converge {
			r.checker.violate("liveness: the %d members did not form one view within %v: %s", r.cfg.Members, r.cfg.Converge, r.describe())
			r.enter(phaseDone, "formation failed")
		}
	case phaseActive:
		if r.now >= r.activeEnd {
			r.enter(phaseQuiet, "membership faults stop")
			r.rekeys(0)
			r.calm()
		}
	case phaseQuiet:
		if r.settled() {
			since = r.stable - r.phaseAt
			r.res.Converged = since
			r.enter(phaseFinal, "converged after %v: %s; final round", since, r.viewOf(r.live()[0]))
			r.finalRound()
		} else if since >= r.cfg.Converge {
			r.checker.violate("liveness: the live members did not converge to one view within %v of the faults stopping: %s", r.cfg.Converge, r.describe())
			r.enter(phaseDone, "convergence failed")
		}
	case phaseFinal:
		if r.allSent() && r.checker.Complete() {
			r.draining = true
			r.enter(phaseDrain, "everything delivered; draining")
		} else if since >= r.cfg.Deadline {
			r.enter(phaseDone, "deadline")
		}
	case phaseDrain:
		if _, inFlight := r.net.NextDue(); !inFlight || since >= maxDrain {
			r.enter(phaseDone, "drained")
		}
	}
}

func (r *run) enter(p phase, format string, args ...any) {
	r.phase, r.phaseAt, r.stable = p, r.now, -1
	r.logf("phase %v: "+format, append([]any{p}, args...)...)
}

// start starts a process at addr.
func (r *run) start(addr netip.AddrPort, initial bool) int {
	p := len(r.procs)
	inc := r.faults.Uint32() | 1
	for r.incUsed(addr, inc) {
		inc = r.faults.Uint32() | 1
	}
	self := membership.Endpoint{Addr: addr, Inc: inc}
	pr := &proc{self: self, initial: initial}
	r.procs = append(r.procs, pr)
	r.byAddr[addr] = p
	r.byEnd[self] = p
	r.checker.Start(p, self)
	mc := membership.Config{
		Self:    self,
		Group:   group,
		Seeds:   r.seeds,
		Layers:  r.cfg.layers(),
		Options: r.stackOptions(p),
		Seed:    mix(r.cfg.Seed, streamMembers, uint64(p)),
		Timing:  Timing,
		Trace:   func(t membership.Trace) { r.traced(p, t) },
	}
	if r.log != nil {
		mc.Logger = slog.New(&protocolLog{r: r, name: fmt.Sprintf("m%d", p)})
	}
	switch {
	case r.cfg.Participant:
		pr.part = r.newParticipant(p, self)
	case r.cfg.Secure:
		sp, err := r.newSecure(p)
		if err != nil {
			r.err = err
			pr.state = StateCrashed
			return p
		}
		pr.part = sp
	}
	if pr.part != nil {
		r.checker.Participant(p, pr.part)
		mc.Participant = pr.part
		mc.Rand = seeded(mix(r.cfg.Seed, streamCookies, uint64(p)))
	}
	m, err := membership.New(mc)
	if err != nil {
		r.err = err
		pr.state = StateCrashed
		return p
	}
	pr.m = m
	r.logf("m%d starts as %v", p, self)
	r.drain(p)
	return p
}

func (r *run) incUsed(addr netip.AddrPort, inc uint32) bool {
	_, used := r.byEnd[membership.Endpoint{Addr: addr, Inc: inc}]
	return used
}

func (r *run) newAddr() netip.AddrPort {
	a := transport.Addr(r.addrs)
	r.addrs++
	return a
}

func (r *run) traced(p int, t membership.Trace) {
	if t.Consent {
		r.checker.Consent(p, t.View)
		r.logf("m%d agrees to %s", p, r.checker.viewString(t.View.ID, t.View.Members))
	}
}

// receive hands every datagram that has fallen due to the process at its
// address, if it is running.
func (r *run) receive() {
	r.due = r.net.Due(r.now, r.due[:0])
	for i := range r.due {
		d := &r.due[i]
		p, ok := r.byAddr[d.To]
		switch {
		case ok && r.procs[p].state == StateUp:
			r.deliver(p, d)
		case ok:
		case r.sec != nil && r.sec.outsiderAt(d.To) != nil:
			r.outsiderInput(r.sec.outsiderAt(d.To), inReceive, d.From, d.Data)
		case r.adv != nil:
			r.hear(d)
		}
		*d = transport.Delivery{}
	}
}

func (r *run) tick() {
	for p, pr := range r.procs {
		if pr.state == StateUp {
			r.input(p, inTick, netip.AddrPort{}, nil)
		}
	}
	if r.sec != nil {
		r.driveOutsiders(inTick)
	}
}

func (r *run) flush() {
	for p, pr := range r.procs {
		if pr.state == StateUp {
			r.input(p, inFlush, netip.AddrPort{}, nil)
		}
	}
	if r.sec != nil {
		r.driveOutsiders(inFlush)
	}
}

// inject sends the workload's messages that are due, while the sender's
// backlog is short.
func (r *run) inject() {
	for p, pr := range r.procs {
		for pr.state == StateUp && pr.next < len(pr.ops) && pr.ops[pr.next].at <= r.now && pr.m.Backlog() < maxBacklog {
			o := &pr.ops[pr.next]
			pr.next++
			r.send(p, o)
		}
	}
}

// send sends one op of process p.
func (r *run) send(p int, o *op) {
	pr := r.procs[p]
	var id ID
	if o.kind == KindCast {
		id = ID{Kind: KindCast, From: p, Index: pr.casts}
		pr.casts++
	} else {
		to := o.to
		if to < 0 {
			v := pr.m.View()
			to = r.byEnd[v.Members[destination(o.pick, v.Rank(pr.self), len(v.Members))]]
		}
		if len(pr.sends) <= to {
			pr.sends = append(pr.sends, make([]int, to+1-len(pr.sends))...)
		}
		id = ID{Kind: KindSend, From: p, To: to, Index: pr.sends[to]}
		pr.sends[to]++
	}
	payload := Payload(r.cfg.Seed, id, o.size)
	blocked := pr.m.Blocked()
	r.checker.Sent(p, id, payload, blocked)
	r.res.Sent++
	switch {
	case o.final && id.Kind == KindCast:
		for _, q := range r.final {
			r.checker.Expect(id, q)
		}
	case r.strict && id.Kind == KindCast:
		for q := range r.procs {
			r.checker.Expect(id, q)
		}
	case o.final || r.strict:
		r.checker.Expect(id, id.To)
	}
	if r.log != nil {
		b := ""
		if blocked {
			b = " (blocked)"
		}
		r.logf("m%d sends %v, %d bytes%s", p, id, len(payload), b)
	}
	// The member owns payload from here on.
	if id.Kind == KindCast {
		r.input(p, inCast, netip.AddrPort{}, payload)
	} else {
		r.to = r.procs[id.To].self
		r.input(p, inSend, netip.AddrPort{}, payload)
	}
}

// Inputs to a member, for input.
const (
	inReceive = iota
	inTick
	inFlush
	inCast
	inSend
	inLeave
	inContinue
)

var inputNames = [...]string{"Receive", "Tick", "Flush", "Cast", "Send", "Leave", "Continue"}

// input gives member p one input and drains its outputs, and then the
// work the member left for after them (Member.Pending), before any other
// input. A panic is a violation: the member then counts as crashed, and
// the run goes on.
func (r *run) input(p, in int, from netip.AddrPort, data []byte) {
	for ok := r.guard(p, in, from, data); ok; ok = r.guard(p, inContinue, netip.AddrPort{}, nil) {
		r.drain(p)
		if !r.procs[p].m.Pending() {
			return
		}
	}
}

func (r *run) guard(p, in int, from netip.AddrPort, data []byte) (ok bool) {
	pr := r.procs[p]
	defer func() {
		if v := recover(); v != nil {
			r.checker.violate("panic: member %d in %s at %v: %v", p, inputNames[in], r.now, v)
			if r.log != nil {
				r.logf("m%d panicked in %s: %v\n%s", p, inputNames[in], v, debug.Stack())
			}
			pr.state = StateCrashed
			r.net.Detach(pr.self.Addr)
			r.checker.Crashed(p)
			ok = false
		}
	}()
	switch in {
	case inReceive:
		pr.m.Receive(from, data)
	case inTick:
		pr.m.Tick(r.now)
	case inFlush:
		pr.m.Flush()
	case inCast:
		pr.m.Cast(data)
	case inSend:
		pr.m.Send(r.to, data)
	case inLeave:
		pr.m.Leave()
	case inContinue:
		pr.m.Continue()
	}
	return true
}

// drain takes process p's outputs: its packets to the network (unless
// draining), its events to the checker.
func (r *run) drain(p int) {
	pr := r.procs[p]
	rd := pr.m.Ready()
	if !r.draining {
		for _, pk := range rd.Packets {
			r.net.Send(r.now, pr.self.Addr, pk.Addr, pk.Data)
			if r.adv != nil {
				r.watch(p, pk.Addr, pk.Data)
			}
			if r.sec != nil && r.data != nil {
				r.recordData(pr.self.Addr, pk.Addr, pk.Data)
			}
		}
	}
	for i := range rd.Events {
		r.event(p, &rd.Events[i])
	}
	if r.cfg.SenderAuth {
		r.tallySign(pr)
	}
	// The network copied the packets, the checker read the events: the
	// member may reuse them.
	pr.m.Advance()
}

func (r *run) event(p int, ev *membership.Event) {
	r.trace.event(r.now, p, ev)
	if r.log != nil {
		r.logEvent(p, ev)
	}
	r.checker.Event(p, ev)
	if r.adv != nil && ev.Kind == membership.ViewChange {
		for _, e := range ev.View.Members {
			if _, member := r.byEnd[e]; !member {
				r.adv.joined[e.Addr] = true
			}
		}
	}
	switch ev.Kind {
	case membership.Message:
		r.res.Delivered++
	case membership.Left:
		// The process is done: it stops, as a real one would.
		r.procs[p].state = StateLeft
		r.becameEx(p)
	}
}

// finalRound makes every live member cast FinalCasts messages and send
// one to every other live member: all must arrive.
func (r *run) finalRound() {
	r.final = r.live()
	for _, p := range r.final {
		pr := r.procs[p]
		for range FinalCasts {
			pr.ops = append(pr.ops, op{at: r.now, kind: KindCast, size: smallMin + r.work.IntN(smallMax-smallMin+1), to: -1, final: true})
		}
		for _, q := range r.final {
			if q != p {
				pr.ops = append(pr.ops, op{at: r.now, kind: KindSend, size: smallMin + r.work.IntN(smallMax-smallMin+1), to: q, final: true})
			}
		}
	}
}

// allSent reports whether every running process has sent all its ops.
func (r *run) allSent() bool {
	for _, pr := range r.procs {
		if pr.state == StateUp && pr.next < len(pr.ops) {
			return false
		}
	}
	return true
}

// live lists the running processes that have not asked to leave.
func (r *run) live() []int {
	var out []int
	for p, pr := range r.procs {
		if pr.state == StateUp && !pr.leaving {
			out = append(out, p)
		}
	}
	return out
}

// settled reports whether the running processes have converged (see
// converged) and stayed so for Settle: long enough for suspicions raised
// before to have fired. r.stable is when they converged.
func (r *run) settled() bool {
	if !r.converged() {
		r.stable = -1
		return false
	}
	if r.stable < 0 {
		r.stable = r.now
	}
	return r.now-r.stable >= Settle
}

// converged reports whether none of the running processes is still
// leaving, and the others share one view of exactly them, with no view
// change under way.
func (r *run) converged() bool {
	var want []membership.Endpoint
	for _, pr := range r.procs {
		if pr.state != StateUp {
			continue
		}
		if pr.leaving || pr.m.Blocked() {
			return false
		}
		want = append(want, pr.self)
	}
	if len(want) == 0 {
		return true
	}
	var id membership.ViewID
	for _, pr := range r.procs {
		if pr.state != StateUp {
			continue
		}
		v := pr.m.View()
		if len(v.Members) != len(want) {
			return false
		}
		if id == (membership.ViewID{}) {
			id = v.ID
			for _, e := range want {
				if !v.Has(e) {
					return false
				}
			}
		} else if v.ID != id {
			return false
		}
	}
	return true
}

// describe says where every running process is, for a liveness violation.
func (r *run) describe() string {
	var parts []string
	for p, pr := range r.procs {
		if pr.state != StateUp {
			continue
		}
		s := fmt.Sprintf("m%d in %s", p, r.viewOf(p))
		if pr.m.Blocked() {
			s += " (blocked)"
		}
		if pr.leaving {
			s += " (leaving)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

func (r *run) viewOf(p int) string {
	v := r.procs[p].m.View()
	return r.checker.viewString(v.ID, v.Members)
}

// explain says what the simulator knows of a stalled stream: where its
// receiver and its sender are.
func (r *run) explain(st Stall) string {
	where := func(p int) string {
		pr := r.procs[p]
		if pr.state != StateUp {
			return fmt.Sprintf("m%d %v", p, pr.state)
		}
		s := fmt.Sprintf("m%d in %s", p, r.viewOf(p))
		if pr.m.Blocked() {
			s += " blocked"
		}
		return s + fmt.Sprintf(", backlog %d", pr.m.Backlog())
	}
	return "receiver " + where(st.Receiver) + "; sender " + where(st.First.From)
}

func (r *run) result() Result {
	res := r.res
	res.Config = r.cfg
	res.Violations = r.checker.Violations()
	res.VirtualTime = r.now
	res.Net = r.net.Stats()
	res.Views = len(r.checker.viewList)
	res.Decided = r.checker.Decided()
	res.Forged, res.Denied = r.checker.Forged(), r.kept
	for _, pr := range r.procs {
		if pr.stack != nil {
			r.addSign(pr.stack)
		}
	}
	res.SignVerified, res.SignRefused = r.signVerified, r.signRefused
	if r.sec != nil {
		res.Attempts = r.sec.attemptList()
	}
	for _, pr := range r.procs {
		m := Member{Endpoint: pr.self, State: pr.state}
		if pr.m != nil {
			m.View = pr.m.View().ID
			m.Backlog = pr.m.Backlog()
			m.Counters = sortedCounters(pr.m.Counters())
			for _, c := range m.Counters {
				if strings.HasPrefix(c.Name, "drop") {
					res.Drops += c.Value
				}
				if c.Layer == "membership" && c.Name == "rekey_rounds" {
					res.Rekeys += int(c.Value)
				}
			}
		}
		res.Members = append(res.Members, m)
	}
	r.trace.stats(res.Net, res.VirtualTime)
	res.Trace = uint64(r.trace)
	return res
}

// sortedCounters sorts counters by layer and name: a member reports its own
// in map order.
func sortedCounters(cs []layers.Counter) []layers.Counter {
	slices.SortFunc(cs, func(a, b layers.Counter) int {
		return cmp.Or(cmp.Compare(a.Layer, b.Layer), cmp.Compare(a.Name, b.Name))
	})
	return cs
}

// trace is a running FNV-1a hash of what a run did.
type trace uint64

func (t *trace) bytes(b []byte) {
	h := uint64(*t)
	for _, x := range b {
		h = (h ^ uint64(x)) * fnvPrime
	}
	*t = trace(h)
}

func (t *trace) words(vs ...uint64) {
	var a [8 * 10]byte
	b := a[:0]
	for _, v := range vs {
		b = binary.LittleEndian.AppendUint64(b, v)
	}
	t.bytes(b)
}

func (t *trace) endpoint(e membership.Endpoint) {
	a := e.Addr.Addr().As16()
	t.bytes(a[:])
	t.words(uint64(e.Addr.Port()), uint64(e.Inc))
}

func (t *trace) event(now time.Duration, p int, ev *membership.Event) {
	t.words(uint64(now), uint64(p), uint64(ev.Kind))
	switch ev.Kind {
	case membership.Message:
		t.endpoint(ev.From)
		t.words(uint64(len(ev.Data)))
		t.bytes(ev.Data)
	case membership.ViewChange:
		t.words(ev.View.ID.LTime, uint64(len(ev.View.Members)))
		t.endpoint(ev.View.ID.Coord)
		for _, e := range ev.View.Members {
			t.endpoint(e)
		}
	}
}

func (t *trace) stats(s transport.NetStats, end time.Duration) {
	t.words(s.Sent, s.Delivered, s.Dropped, s.Duplicated, s.Reordered, s.Partitioned, s.Overflowed, s.Unreachable, uint64(end))
}
