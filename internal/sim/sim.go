package sim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/mnak"
	"github.com/conclave-go/conclave/transport"
)

// MaxMembers bounds Config.Members.
const MaxMembers = 64

// Defaults for Config fields left zero.
const (
	DefaultStep     = 500 * time.Microsecond
	DefaultActive   = 500 * time.Millisecond
	DefaultDeadline = 60 * time.Second
)

// maxBacklog is the stack backlog above which the workload waits, as a
// real application would when its sends block (see layers.Backlogger).
const maxBacklog = 256

// group is the group identifier every simulated stack carries.
const group = 0x636f6e636c617665 // "conclave"

// Config describes one run. Run is a pure function of it.
type Config struct {
	Seed     uint64 // drives everything: workload, network faults, stacks
	Members  int    // group size, 1 … MaxMembers
	Messages int    // multicasts per member
	Sends    int    // point-to-point messages per member
	Faults   Faults

	Step     time.Duration // virtual clock step; DefaultStep when zero
	Active   time.Duration // the workload is sent during [0, Active); DefaultActive when zero
	Deadline time.Duration // everything must be delivered by Active+Deadline; DefaultDeadline when zero
}

// WithDefaults returns c with zero durations replaced by their defaults.
func (c Config) WithDefaults() Config {
	if c.Step == 0 {
		c.Step = DefaultStep
	}
	if c.Active == 0 {
		c.Active = DefaultActive
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
	case c.Step < 0 || c.Active < 0 || c.Deadline < 0:
		return errors.New("sim: negative duration")
	}
	return nil
}

// Result is what a run found. With its Config it is everything needed to
// replay the run: the same Config gives the same Result.
type Result struct {
	Config      Config        // as run, defaults filled in
	Violations  []string      // empty when every invariant held
	Sent        int           // messages the workload sent, casts and sends
	Delivered   int           // deliveries to the members' applications
	VirtualTime time.Duration // when the run stopped
	// Trace hashes every delivery (time, receiver, sender, type, bytes) in
	// order, and the network's statistics: two runs with the same Trace
	// behaved the same.
	Trace   uint64
	Net     transport.NetStats
	Drops   uint64   // the stacks' drop counters, summed
	Members []Member // each member's state at the end
}

// Member is one member's state at the end of a run.
type Member struct {
	Backlog  int
	Counters []layers.Counter
}

// OK reports whether the run found no violation.
func (r *Result) OK() bool { return len(r.Violations) == 0 }

// Run simulates one group under cfg and checks it. It returns an error
// only for an invalid Config; what goes wrong in the group is in
// Result.Violations.
func Run(cfg Config) (Result, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	r, err := newRun(cfg)
	if err != nil {
		return Result{}, err
	}
	return r.run(), nil
}

// run is the state of one simulation.
type run struct {
	cfg     Config
	net     *transport.Network
	addrs   []netip.AddrPort
	ranks   map[netip.AddrPort]int
	stacks  []*layers.Stack
	work    [][]op
	next    []int // per member, its next op
	pending int   // ops not yet sent
	checker *Checker
	trace   trace
	now     time.Duration
	due     []transport.Delivery
	res     Result
}

// Independent streams of randomness derived from the seed.
const (
	streamStacks = iota + 1
	streamNetwork
	streamWorkload
)

func newRun(cfg Config) (*run, error) {
	n := cfg.Members
	r := &run{
		cfg:     cfg,
		net:     transport.NewNetwork(mix(cfg.Seed, streamNetwork), cfg.Faults.Network()),
		ranks:   make(map[netip.AddrPort]int, n),
		next:    make([]int, n),
		checker: NewChecker(n),
		trace:   trace(fnvOffset),
	}
	rng := rand.New(rand.NewPCG(mix(cfg.Seed, streamWorkload), cfg.Seed))
	r.work = workload(rng, n, cfg.Messages, cfg.Sends, cfg.Active)
	for rank := range n {
		st, err := compose.Build(layers.Config{
			View: layers.View{Group: group, ID: 0, Rank: rank, N: n},
			Seed: mix(cfg.Seed, streamStacks),
		}, compose.Reliable, compose.Options{})
		if err != nil {
			return nil, err
		}
		r.stacks = append(r.stacks, st)
		a := transport.Addr(rank)
		r.addrs = append(r.addrs, a)
		r.ranks[a] = rank
		r.pending += len(r.work[rank])
	}
	return r, nil
}

// run steps the clock until everything is delivered and the network has
// drained, or until the deadline.
func (r *run) run() Result {
	deadline := r.cfg.Active + r.cfg.Deadline
	draining := false
	for {
		r.now += r.cfg.Step
		r.receive()
		for _, s := range r.stacks {
			s.Tick(r.now)
		}
		r.inject()
		r.collect(draining)
		if !draining && r.pending == 0 && r.checker.Complete() {
			// Everything is delivered. Let what is still in flight
			// arrive, so that late duplicates and retransmissions are
			// checked too, but put nothing new on the network.
			draining = true
		}
		if _, inFlight := r.net.NextDue(); draining && !inFlight {
			break
		}
		if r.now >= deadline {
			r.checker.Finish(r.explain)
			break
		}
	}
	return r.result()
}

// receive hands every datagram that has fallen due to its stack.
func (r *run) receive() {
	r.due = r.net.Due(r.now, r.due[:0])
	for i := range r.due {
		d := &r.due[i]
		r.stacks[r.ranks[d.To]].Receive(d.Data)
		*d = transport.Delivery{}
	}
}

// inject sends the workload's messages that are due, while the sender's
// stack is not backlogged.
func (r *run) inject() {
	for rank, s := range r.stacks {
		ops := r.work[rank]
		for r.next[rank] < len(ops) && ops[r.next[rank]].at < r.now && s.Backlog() < maxBacklog {
			o := &ops[r.next[rank]]
			r.next[rank]++
			r.pending--
			payload := Payload(r.cfg.Seed, o.id, o.size)
			r.checker.Sent(o.id, payload)
			r.res.Sent++
			// The stack owns payload from here on.
			if o.id.Kind == KindCast {
				s.Cast(payload)
			} else {
				s.Send(o.id.To, payload)
			}
		}
	}
}

// collect flushes every stack, checks its deliveries and puts its packets
// on the network, unless draining.
func (r *run) collect(draining bool) {
	for rank, s := range r.stacks {
		s.Flush()
		rd := s.Ready()
		for _, d := range rd.Deliveries {
			r.res.Delivered++
			r.trace.delivery(r.now, rank, d)
			r.checker.Deliver(rank, d)
		}
		for _, p := range rd.Packets {
			switch {
			case draining:
			case p.To == layers.AllPeers:
				for to := range r.stacks {
					if to != rank {
						r.net.Send(r.now, r.addrs[rank], r.addrs[to], p.Data)
					}
				}
			case p.To >= 0 && p.To < len(r.stacks) && p.To != rank:
				r.net.Send(r.now, r.addrs[rank], r.addrs[p.To], p.Data)
			default:
				r.checker.violate("member %d: emitted a packet to rank %d", rank, p.To)
			}
		}
		// The network copied the packets; the stack may reuse them.
		s.Advance()
	}
}

// explain says what the stacks know of a stalled stream: for multicasts,
// the receiver's reliable multicast log of the sender's stream (counting
// fragments); for both, the sender's flow control backlog.
func (r *run) explain(st Stall) string {
	backlog := fmt.Sprintf("sender backlog %d", r.stacks[st.First.From].Backlog())
	m, ok := r.stacks[st.Receiver].Layer("mnak").(*mnak.Layer)
	if st.First.Kind != KindCast || !ok {
		return backlog
	}
	low, delivered, known := m.Progress(st.First.From)
	return fmt.Sprintf("receiver's mnak log: low %d, delivered %d, known %d; %s", low, delivered, known, backlog)
}

func (r *run) result() Result {
	res := r.res
	res.Config = r.cfg
	res.Violations = r.checker.Violations()
	res.VirtualTime = r.now
	res.Net = r.net.Stats()
	for _, s := range r.stacks {
		res.Drops += s.Drops()
		res.Members = append(res.Members, Member{Backlog: s.Backlog(), Counters: s.Counters()})
	}
	r.trace.stats(res.Net, res.VirtualTime)
	res.Trace = uint64(r.trace)
	return res
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

func (t *trace) delivery(now time.Duration, receiver int, d layers.Delivery) {
	t.words(uint64(now), uint64(receiver), uint64(d.From), uint64(d.Type), uint64(len(d.Data)))
	t.bytes(d.Data)
}

func (t *trace) stats(s transport.NetStats, end time.Duration) {
	t.words(s.Sent, s.Delivered, s.Dropped, s.Duplicated, s.Reordered, s.Partitioned, s.Overflowed, s.Unreachable, uint64(end))
}
