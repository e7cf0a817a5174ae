package main

// conclave bench measures the stack against plain UDP with member processes
// on 127.0.0.1. The parent re-executes this binary as hidden 'bench-member'
// children and drives them with JSON lines:
//
//	parent                              member r
//	  start the process ─────────────────▶ bind three UDP sockets on 127.0.0.1:0
//	        ◀───────────────── benchHello (its raw, stack and total addresses)
//	  benchCommand setup ────────────────▶ every address, the parameters
//	  benchCommand raw, start time ──────▶ send / count plain datagrams
//	        ◀───────────────── benchRawReport
//	  benchCommand join ─────────────────▶ Join, wait for a view of all
//	        ◀───────────────── benchJoined (the view's id)
//	  benchCommand stack, start time ────▶ multicast / deliver, drain
//	        ◀───────────────── benchStackReport
//	 with --total:
//	  benchCommand join-total ───────────▶ Close the first group; Join a
//	                                       second, totally ordered, on the
//	                                       total socket; wait for a view of all
//	        ◀───────────────── benchJoined
//	  benchCommand total, start time ────▶ multicast / deliver, drain
//	        ◀───────────────── benchStackReport
//	  close its stdin ───────────────────▶ Close the group, exit 0
//
// A member whose standard input ends early (its parent died) stops and
// exits. Phases start at a wall-clock time chosen by the parent, so they do
// not overlap and every member counts over the same window.

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/transport"
)

func init() { commands = append(commands, newBenchCmd, newBenchMemberCmd) }

const (
	// benchHeader is the bytes of a stack message that carry its send
	// time (8 bytes, Unix nanoseconds) and its sequence number (8 bytes).
	// Shorter messages carry neither, so latency and order go unchecked.
	benchHeader = 16

	// benchPhaseLead is how far ahead of now the parent schedules a phase, so
	// that every member has its command (and has joined) before it starts.
	benchPhaseLead = 250 * time.Millisecond

	// benchMaxWarmup bounds the warm-up, a fifth of the duration, during which
	// nothing is counted.
	benchMaxWarmup = 500 * time.Millisecond

	// benchDrainLimit is how long after the end of the stack phase a member
	// waits for the end markers of every sender before giving up.
	benchDrainLimit = 30 * time.Second

	// benchJoinLimit bounds the wait for a view of every member.
	benchJoinLimit = 30 * time.Second

	// benchMargin is added to twice the duration to make the time limit
	// of the whole bench.
	benchMargin = 60 * time.Second

	// benchRawBatch is the largest number of datagrams per WriteBatch in the raw
	// UDP phase, as in the stack's transport.
	benchRawBatch = 64

	maxBenchMembers = 64
	// maxBenchSize bounds --size: messages of up to 16 MiB go through the
	// stack in fragments of one datagram each.
	maxBenchSize = 16 << 20
	// maxBenchRate bounds --rate: past a million messages per second a
	// sender is never paced.
	maxBenchRate = 1_000_000
)

var benchLoopback = netip.MustParseAddrPort("127.0.0.1:0")

type benchOptions struct {
	members    int
	size       int
	rate       int // messages per second per sender; 0: as fast as possible
	duration   time.Duration
	senders    string
	total      bool
	json       bool
	slow       time.Duration
	cpuprofile string
}

// phases is the number of phases the bench runs.
func (o *benchOptions) phases() int {
	if o.total {
		return 3
	}
	return 2
}

func newBenchCmd() *cobra.Command {
	var o benchOptions
	cmd := &cobra.Command{
		Use:   "bench --members M --size BYTES --duration D",
		Short: "Measure multicast throughput and latency against plain UDP",
		Long: `bench measures the throughput and latency of the group's reliable multicast
against plain UDP, with M member processes talking over UDP on 127.0.0.1.

Two phases run one after the other, with the same processes, fan-out and
message size, and a third with --total:

  raw UDP  the sender(s) send each --size-byte message to every other
           member (the fan-out the stack uses) as datagrams of at most the
           stack's datagram size, 1400 bytes: one datagram up to that size,
           ceil(size/1400) above it, as the stack's fragments would be. They
           go in sendmmsg batches of up to 64 datagrams, as fast as the
           sockets take them. A message is that many datagrams that arrived;
           lost ones are not counted.
  stack    every member joins the group and waits for a view of all M;
           then the sender(s) multicast --size-byte messages as fast as flow
           control lets them (messages longer than a datagram are fragmented
           by the stack), and every member, the senders included, counts
           the messages it delivers (and checks each sender's order). A view
           change during the phase (a member suspected) fails the bench.
  total    with --total: every member closes its first group, where every
           member has delivered everything, and joins a second one with
           total order (TotalOrder: every member delivers the multicasts in
           the same order); then the same senders send the same messages for
           as long, counted the same way, and the bench checks that every
           member delivered them in the same order.

Each phase lasts --duration. Counting starts after a warm-up of a fifth of it
(at most 500ms) and stops at --duration; the stack and total order phases
then drain, so every member delivers everything before the next phase or the
end.

With --senders one only member 0 sends; with all, every member does.

With --rate N each sender sends N messages per second instead of as fast as
it can, in both phases (paced in steps of at least 1ms: above 1000/s a few
messages go back to back), so that latency is measured at light load: that
is the one-way latency of the stack itself, where at full load it is mostly
the wait behind flow control. The raw UDP phase then measures the one-way
latency of plain datagrams at the same rate too (raw p50, raw p99; for
messages above one datagram, each datagram's). msgs/s then only shows that
every message arrived; the ratio is about 1.

  msgs/s   per member: the mean over members of the messages each delivered
           per second (the slowest member's rate is shown too). For raw UDP
           only the members that receive count: not member 0 with one sender.
  MB/s     size × stack msgs/s / 1e6
  p50 p99  one-way latency of the stack's messages from other members: time
           of delivery minus the send time carried in the message (the wall
           clock, shared by processes on one machine). Without --rate it is
           taken under full load, so it includes the wait behind flow
           control. It needs --size 16 or more.
  ratio    stack msgs/s per member ÷ raw UDP msgs/s per member. Small
           messages are bundled many to a datagram, so it can exceed 1.
  vs stack with --total: total order msgs/s ÷ stack msgs/s, both per
           member, measured in the same run.
  max RSS  peak resident set size of a member process (VmHWM).

--slow-receiver makes the last member take that long over every delivery in
the stack phase (it sleeps, in slices of 1ms or more because shorter sleeps
are not kept, so that it delivers at most one message per delay on average);
flow control then holds the senders back to its pace, and the max RSS of each
member shows that no one's memory grows with the backlog. The raw UDP phase
ignores it; the total order phase applies it too.

--json prints one line of JSON instead of the tables: the same numbers, and
per member its rates, latency, max RSS and datagrams and system calls.`,
		Example: `  conclave bench --members 3 --size 1024 --duration 5s
  conclave bench --members 3 --size 64 --rate 1000 --duration 5s
  conclave bench --members 3 --size 100000 --duration 5s
  conclave bench --members 3 --size 1024 --duration 5s --total
  conclave bench --members 3 --size 64 --duration 5s --senders all --json
  conclave bench --members 3 --size 1024 --duration 5s --slow-receiver 50us`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.check(); err != nil {
				return err
			}
			return runBench(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.members, "members", 3, "number of member processes")
	f.IntVar(&o.size, "size", 1024, "message size in bytes (above 1400, the stack fragments them)")
	f.IntVar(&o.rate, "rate", 0, "messages per second each sender sends (0: as fast as it can)")
	f.DurationVar(&o.duration, "duration", 5*time.Second, "length of each phase")
	f.StringVar(&o.senders, "senders", "one", "who sends: one (member 0) or all")
	f.BoolVar(&o.total, "total", false, "run a third phase in a group with total order")
	f.BoolVar(&o.json, "json", false, "print the result as one line of JSON")
	f.DurationVar(&o.slow, "slow-receiver", 0, "make the last member spend this long on each delivery (stack phase)")
	f.StringVar(&o.cpuprofile, "cpuprofile", "", "write each member's CPU profile of the stack phase to `DIR`/member-R.pprof (of the total order phase to member-R-total.pprof)")
	f.MarkHidden("cpuprofile")
	return cmd
}

func (o *benchOptions) check() error {
	switch {
	case o.members < 2 || o.members > maxBenchMembers:
		return fmt.Errorf("--members %d: want 2 to %d", o.members, maxBenchMembers)
	case o.size < 1 || o.size > maxBenchSize:
		return fmt.Errorf("--size %d: want 1 to %d bytes", o.size, maxBenchSize)
	case o.rate < 0 || o.rate > maxBenchRate:
		return fmt.Errorf("--rate %d: want 0 (as fast as possible) to %d messages per second", o.rate, maxBenchRate)
	case o.duration < 100*time.Millisecond:
		return fmt.Errorf("--duration %v: want at least 100ms", o.duration)
	case o.senders != "one" && o.senders != "all":
		return fmt.Errorf("--senders %q: want one or all", o.senders)
	case o.slow < 0:
		return fmt.Errorf("--slow-receiver %v: want a positive delay", o.slow)
	}
	if o.cpuprofile != "" {
		dir, err := filepath.Abs(o.cpuprofile)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		o.cpuprofile = dir
	}
	return nil
}

func benchWarmup(d time.Duration) time.Duration { return min(d/5, benchMaxWarmup) }

// The parent's lines to a member.

type benchCommand struct {
	Cmd   string      `json:"cmd"` // setup, raw, join, stack, join-total or total
	Setup *benchSetup `json:"setup,omitempty"`
	// Start is when a raw or stack phase begins, in Unix nanoseconds.
	Start int64 `json:"start,omitempty"`
}

// The commands.
const (
	benchCmdSetup     = "setup"
	benchCmdRaw       = "raw"
	benchCmdJoin      = "join"
	benchCmdStack     = "stack"
	benchCmdJoinTotal = "join-total"
	benchCmdTotal     = "total"
)

type benchSetup struct {
	Rank         int              `json:"rank"`
	Group        string           `json:"group"`
	Raw          []netip.AddrPort `json:"raw"`
	Stack        []netip.AddrPort `json:"stack"`
	Total        []netip.AddrPort `json:"total,omitempty"` // with --total
	Size         int              `json:"size"`
	Rate         int              `json:"rate"`     // per sender per second; 0: unpaced
	Datagram     int              `json:"datagram"` // the raw phase's largest datagram
	Duration     time.Duration    `json:"duration"`
	AllSend      bool             `json:"all_send"`
	SlowReceiver time.Duration    `json:"slow_receiver"`
	CPUProfile   string           `json:"cpuprofile"`
}

// sends says whether rank r sends.
func (s *benchSetup) sends(r int) bool { return s.AllSend || r == 0 }

func (s *benchSetup) senders() int {
	if s.AllSend {
		return len(s.Stack)
	}
	return 1
}

// slow says whether this member is the slow receiver.
func (s *benchSetup) slow() bool { return s.SlowReceiver > 0 && s.Rank == len(s.Stack)-1 }

// A member's lines to the parent.

type benchHello struct {
	Raw   netip.AddrPort `json:"raw"`
	Stack netip.AddrPort `json:"stack"`
	Total netip.AddrPort `json:"total"` // for the total order phase
}

type benchJoined struct {
	View string `json:"view"` // the view's id
}

type benchRawReport struct {
	// Received and Sent count messages in the window, a message being a
	// message's datagrams to one member: when a message takes k
	// datagrams, datagrams ÷ k.
	Received uint64   `json:"received"`
	Sent     uint64   `json:"sent"`
	Seconds  float64  `json:"seconds"` // the window
	UDP      benchUDP `json:"udp"`     // the whole phase
	// Latency is the one-way latency of datagrams from other members, in
	// nanoseconds, with --rate only.
	Latency *benchutil.Histogram `json:"latency,omitempty"`
}

type benchStackReport struct {
	Delivered       uint64               `json:"delivered"` // in the window
	Sent            uint64               `json:"sent"`      // multicasts, in the window
	Seconds         float64              `json:"seconds"`
	Latency         *benchutil.Histogram `json:"latency"` // nanoseconds
	Retransmissions uint64               `json:"retransmissions"`
	Drops           uint64               `json:"drops"`
	DropReasons     map[string]uint64    `json:"drop_reasons,omitempty"` // layer.drop.reason
	ViewChanges     uint64               `json:"view_changes"`           // after the full view
	UDP             benchUDP             `json:"udp"`                    // the whole phase
	MaxRSSKB        uint64               `json:"max_rss_kb"`
	// Order is a hash of the order of every delivery of the phase,
	// warm-up and drain included: with total order it is the same at
	// every member.
	Order uint64 `json:"order"`
}

// runBench is the parent: it starts the members, runs the phases and prints
// the result.
func runBench(ctx context.Context, o benchOptions, stdout, stderr io.Writer) (err error) {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("cannot find this program to start the members: %w", err)
	}
	if ctx == nil {
		ctx = context.Background()
	}
	limit := time.Duration(o.phases())*o.duration + benchMargin
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("the bench did not finish within %v", limit))
	defer cancel()
	logw := &benchLogWriter{w: stderr}
	progress := func(format string, args ...any) { fmt.Fprintf(logw, "conclave: "+format+"\n", args...) }

	progress("starting %d members…", o.members)
	ws := make([]*benchutil.Worker, 0, o.members)
	defer func() {
		if err == nil {
			return
		}
		cancel() // kills them
		for _, w := range ws {
			w.Wait(context.Background())
		}
	}()
	for r := range o.members {
		w, err := benchutil.StartWorker(ctx, fmt.Sprintf("member %d", r), logw, self, "bench-member")
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	hellos, err := benchRecvAll[benchHello](ctx, ws)
	if err != nil {
		return err
	}
	setup := benchSetup{
		Group:        fmt.Sprintf("conclave-bench-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Size:         o.size,
		Rate:         o.rate,
		Datagram:     layers.DefaultMaxDatagram,
		Duration:     o.duration,
		AllSend:      o.senders == "all",
		SlowReceiver: o.slow,
		CPUProfile:   o.cpuprofile,
	}
	for _, h := range hellos {
		setup.Raw = append(setup.Raw, h.Raw)
		setup.Stack = append(setup.Stack, h.Stack)
		if o.total {
			setup.Total = append(setup.Total, h.Total)
		}
	}
	for r, w := range ws {
		s := setup
		s.Rank = r
		if err := w.Send(benchCommand{Cmd: benchCmdSetup, Setup: &s}); err != nil {
			return err
		}
	}

	progress("raw UDP baseline (%v)…", o.duration)
	raws, err := benchPhase[benchRawReport](ctx, ws, benchCmdRaw)
	if err != nil {
		return err
	}
	progress("stack: joining the group…")
	if err := benchJoinAll(ctx, ws, benchCmdJoin); err != nil {
		return err
	}
	progress("stack (%v)…", o.duration)
	stacks, err := benchPhase[benchStackReport](ctx, ws, benchCmdStack)
	if err != nil {
		return err
	}
	var totals []benchStackReport
	if o.total {
		progress("total order: joining a second group, with total order…")
		if err := benchJoinAll(ctx, ws, benchCmdJoinTotal); err != nil {
			return err
		}
		progress("total order (%v)…", o.duration)
		if totals, err = benchPhase[benchStackReport](ctx, ws, benchCmdTotal); err != nil {
			return err
		}
		for r, t := range totals {
			if t.Order != totals[0].Order {
				return fmt.Errorf("total order broken: member %d delivered the messages in another order than member 0", r)
			}
		}
	}
	for _, w := range ws {
		w.CloseInput()
	}
	for _, w := range ws {
		if err := w.Wait(ctx); err != nil {
			return err
		}
	}
	if o.cpuprofile != "" {
		what := "the stack phase"
		if o.total {
			what = "the stack and total order phases"
		}
		progress("CPU profiles of %s in %s", what, o.cpuprofile)
	}

	res := benchSummarize(o, raws, stacks, totals)
	if o.json {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return res.print(stdout)
}

// benchJoinAll has every member join a group (cmd join or join-total) and
// checks that they all joined the same view.
func benchJoinAll(ctx context.Context, ws []*benchutil.Worker, cmd string) error {
	for _, w := range ws {
		if err := w.Send(benchCommand{Cmd: cmd}); err != nil {
			return err
		}
	}
	joined, err := benchRecvAll[benchJoined](ctx, ws)
	if err != nil {
		return err
	}
	for r, j := range joined {
		if j.View != joined[0].View {
			return fmt.Errorf("members joined different views: member 0 is in %s, member %d in %s", joined[0].View, r, j.View)
		}
	}
	return nil
}

// benchPhase starts phase at every member and collects their reports.
func benchPhase[T any](ctx context.Context, ws []*benchutil.Worker, phase string) ([]T, error) {
	start := time.Now().Add(benchPhaseLead).UnixNano()
	for _, w := range ws {
		if err := w.Send(benchCommand{Cmd: phase, Start: start}); err != nil {
			return nil, err
		}
	}
	return benchRecvAll[T](ctx, ws)
}

// benchRecvAll reads one report from every worker. It returns the first
// error, so a member that fails is reported at once rather than after the
// others give up waiting for it.
func benchRecvAll[T any](ctx context.Context, ws []*benchutil.Worker) ([]T, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	out := make([]T, len(ws))
	errs := make(chan error, len(ws))
	for i, w := range ws {
		go func() { errs <- w.Recv(ctx, &out[i]) }()
	}
	var first error
	for range ws {
		if err := <-errs; err != nil && first == nil {
			first = err
			cancel(err)
		}
	}
	return out, first
}

// benchLogWriter serialises the lines that members and progress write.
type benchLogWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *benchLogWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// benchResult is what bench prints; its JSON is the --json line.
type benchResult struct {
	Members          int                  `json:"members"`
	Size             int                  `json:"size"`
	DurationS        float64              `json:"duration_s"`
	Senders          string               `json:"senders"`
	SlowReceiverUs   float64              `json:"slow_receiver_us"`
	MsgsPerSec       float64              `json:"msgs_per_sec"`
	MinMsgsPerSec    float64              `json:"min_msgs_per_sec"`
	MBPerSec         float64              `json:"mb_per_sec"`
	P50Us            float64              `json:"p50_us"`
	P99Us            float64              `json:"p99_us"`
	Rate             int                  `json:"rate,omitempty"`           // per sender, with --rate
	RawP50Us         float64              `json:"raw_udp_p50_us,omitempty"` // with --rate
	RawP99Us         float64              `json:"raw_udp_p99_us,omitempty"` // with --rate
	RawUDPMsgsPerSec float64              `json:"raw_udp_msgs_per_sec"`
	RatioVsRawUDP    float64              `json:"ratio_vs_raw_udp"`
	MaxRSSKB         uint64               `json:"max_rss_kb"`
	Retransmissions  uint64               `json:"retransmissions"`
	Drops            uint64               `json:"drops"`
	ViewChanges      uint64               `json:"view_changes"`           // the most a member saw
	DropReasons      map[string]uint64    `json:"drop_reasons,omitempty"` // summed over members
	PerMember        []benchMemberSummary `json:"per_member"`

	*benchTotalResult // with --total only
}

// benchTotalResult is the total order phase's part of the result. Its
// fields appear in the JSON only with --total.
type benchTotalResult struct {
	TotalMsgsPerSec    float64 `json:"total_msgs_per_sec"`
	TotalMinMsgsPerSec float64 `json:"total_min_msgs_per_sec"`
	TotalMBPerSec      float64 `json:"total_mb_per_sec"`
	TotalP50Us         float64 `json:"total_p50_us"`
	TotalP99Us         float64 `json:"total_p99_us"`
	// RatioTotalVsStack is total order msgs/s ÷ stack msgs/s, per member.
	RatioTotalVsStack    float64 `json:"ratio_total_vs_stack"`
	TotalRetransmissions uint64  `json:"total_retransmissions"`
	TotalDrops           uint64  `json:"total_drops"`
	TotalViewChanges     uint64  `json:"total_view_changes"`
}

type benchMemberSummary struct {
	Rank             int     `json:"rank"`
	Role             string  `json:"role"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	SentPerSec       float64 `json:"sent_msgs_per_sec"`
	P50Us            float64 `json:"p50_us"`
	P99Us            float64 `json:"p99_us"`
	RawUDPMsgsPerSec float64 `json:"raw_udp_msgs_per_sec"` // received
	RawUDPSentPerSec float64 `json:"raw_udp_sent_per_sec"`
	MaxRSSKB         uint64  `json:"max_rss_kb"`
	Retransmissions  uint64  `json:"retransmissions"`
	Drops            uint64  `json:"drops"`
	// The transport's counts over each whole phase, warm-up and drain
	// included.
	StackUDP benchUDP `json:"stack_udp"`
	RawUDP   benchUDP `json:"raw_udp"`

	*benchMemberTotal // with --total only
}

// benchMemberTotal is a member's part of the total order phase.
type benchMemberTotal struct {
	TotalMsgsPerSec      float64  `json:"total_msgs_per_sec"`
	TotalSentPerSec      float64  `json:"total_sent_msgs_per_sec"`
	TotalP50Us           float64  `json:"total_p50_us"`
	TotalP99Us           float64  `json:"total_p99_us"`
	TotalRetransmissions uint64   `json:"total_retransmissions"`
	TotalDrops           uint64   `json:"total_drops"`
	TotalUDP             benchUDP `json:"total_udp"`
}

func benchPerSec(n uint64, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// benchMulticast sums up a multicast phase (stack or total order) over the
// members: the mean and the minimum of the rates at which each delivered,
// and the latency quantiles of the merged histograms.
type benchMulticast struct {
	rates                []float64 // delivered per second, by rank
	mean, min            float64
	p50Us, p99Us         float64   // all members' latencies together
	memberP50, memberP99 []float64 // by rank
}

func benchSumUp(reps []benchStackReport) benchMulticast {
	var s benchMulticast
	var lat benchutil.Histogram
	for r, rep := range reps {
		rate := benchPerSec(rep.Delivered, rep.Seconds)
		s.rates = append(s.rates, rate)
		s.mean += rate / float64(len(reps))
		if r == 0 || rate < s.min {
			s.min = rate
		}
		var p50, p99 float64
		if rep.Latency != nil {
			p50, p99 = rep.Latency.Quantile(0.50)/1e3, rep.Latency.Quantile(0.99)/1e3
			lat.Merge(rep.Latency)
		}
		s.memberP50 = append(s.memberP50, p50)
		s.memberP99 = append(s.memberP99, p99)
	}
	s.p50Us, s.p99Us = lat.Quantile(0.50)/1e3, lat.Quantile(0.99)/1e3
	return s
}

// benchSummarize aggregates the members' reports: means and minimum over
// members, latency quantiles of the merged histograms, sums of counters.
// totals, the total order phase's reports, is nil without --total.
func benchSummarize(o benchOptions, raws []benchRawReport, stacks, totals []benchStackReport) *benchResult {
	res := &benchResult{
		Members:        o.members,
		Size:           o.size,
		DurationS:      o.duration.Seconds(),
		Senders:        o.senders,
		SlowReceiverUs: float64(o.slow) / 1e3,
		Rate:           o.rate,
	}
	var rawLat benchutil.Histogram
	for _, raw := range raws {
		if raw.Latency != nil {
			rawLat.Merge(raw.Latency)
		}
	}
	res.RawP50Us, res.RawP99Us = rawLat.Quantile(0.50)/1e3, rawLat.Quantile(0.99)/1e3
	allSend := o.senders == "all"
	stack := benchSumUp(stacks)
	var rawSum float64
	rawN := 0
	for r := range o.members {
		st, raw := stacks[r], raws[r]
		m := benchMemberSummary{
			Rank:             r,
			Role:             "receiver",
			MsgsPerSec:       stack.rates[r],
			SentPerSec:       benchPerSec(st.Sent, st.Seconds),
			P50Us:            stack.memberP50[r],
			P99Us:            stack.memberP99[r],
			RawUDPMsgsPerSec: benchPerSec(raw.Received, raw.Seconds),
			RawUDPSentPerSec: benchPerSec(raw.Sent, raw.Seconds),
			MaxRSSKB:         st.MaxRSSKB,
			StackUDP:         st.UDP,
			RawUDP:           raw.UDP,
			Retransmissions:  st.Retransmissions,
			Drops:            st.Drops,
		}
		if allSend || r == 0 {
			m.Role = "sender"
		}
		if o.slow > 0 && r == o.members-1 {
			m.Role += " (slow)"
		}
		res.PerMember = append(res.PerMember, m)

		if allSend || r != 0 {
			rawSum += m.RawUDPMsgsPerSec
			rawN++
		}
		res.MaxRSSKB = max(res.MaxRSSKB, m.MaxRSSKB)
		res.Retransmissions += m.Retransmissions
		res.Drops += m.Drops
		res.ViewChanges = max(res.ViewChanges, st.ViewChanges)
		for k, v := range st.DropReasons {
			if res.DropReasons == nil {
				res.DropReasons = make(map[string]uint64)
			}
			res.DropReasons[k] += v
		}
	}
	res.MsgsPerSec, res.MinMsgsPerSec = stack.mean, stack.min
	res.MBPerSec = float64(o.size) * res.MsgsPerSec / 1e6
	res.P50Us, res.P99Us = stack.p50Us, stack.p99Us
	if rawN > 0 {
		res.RawUDPMsgsPerSec = rawSum / float64(rawN)
	}
	if res.RawUDPMsgsPerSec > 0 {
		res.RatioVsRawUDP = res.MsgsPerSec / res.RawUDPMsgsPerSec
	}
	if totals != nil {
		res.summarizeTotal(o, totals)
	}
	res.round()
	return res
}

// summarizeTotal adds the total order phase to the result.
func (res *benchResult) summarizeTotal(o benchOptions, totals []benchStackReport) {
	total := benchSumUp(totals)
	t := &benchTotalResult{
		TotalMsgsPerSec:    total.mean,
		TotalMinMsgsPerSec: total.min,
		TotalMBPerSec:      float64(o.size) * total.mean / 1e6,
		TotalP50Us:         total.p50Us,
		TotalP99Us:         total.p99Us,
	}
	if res.MsgsPerSec > 0 {
		t.RatioTotalVsStack = total.mean / res.MsgsPerSec
	}
	for r, rep := range totals {
		res.PerMember[r].benchMemberTotal = &benchMemberTotal{
			TotalMsgsPerSec:      total.rates[r],
			TotalSentPerSec:      benchPerSec(rep.Sent, rep.Seconds),
			TotalP50Us:           total.memberP50[r],
			TotalP99Us:           total.memberP99[r],
			TotalRetransmissions: rep.Retransmissions,
			TotalDrops:           rep.Drops,
			TotalUDP:             rep.UDP,
		}
		res.MaxRSSKB = max(res.MaxRSSKB, rep.MaxRSSKB)
		t.TotalRetransmissions += rep.Retransmissions
		t.TotalDrops += rep.Drops
		t.TotalViewChanges = max(t.TotalViewChanges, rep.ViewChanges)
		for k, v := range rep.DropReasons {
			if res.DropReasons == nil {
				res.DropReasons = make(map[string]uint64)
			}
			res.DropReasons["total:"+k] += v
		}
	}
	res.benchTotalResult = t
}

// round keeps a tenth of a message per second or of a microsecond, a
// hundredth of a MB/s and a thousandth of the ratio: the measurement is not
// more precise than that.
func (res *benchResult) round() {
	r := func(v *float64, decimals float64) {
		p := math.Pow(10, decimals)
		*v = math.Round(*v*p) / p
	}
	r(&res.MsgsPerSec, 1)
	r(&res.MinMsgsPerSec, 1)
	r(&res.MBPerSec, 2)
	r(&res.P50Us, 1)
	r(&res.P99Us, 1)
	r(&res.RawP50Us, 1)
	r(&res.RawP99Us, 1)
	r(&res.RawUDPMsgsPerSec, 1)
	r(&res.RatioVsRawUDP, 3)
	if t := res.benchTotalResult; t != nil {
		r(&t.TotalMsgsPerSec, 1)
		r(&t.TotalMinMsgsPerSec, 1)
		r(&t.TotalMBPerSec, 2)
		r(&t.TotalP50Us, 1)
		r(&t.TotalP99Us, 1)
		r(&t.RatioTotalVsStack, 3)
	}
	for i := range res.PerMember {
		m := &res.PerMember[i]
		r(&m.MsgsPerSec, 1)
		r(&m.SentPerSec, 1)
		r(&m.P50Us, 1)
		r(&m.P99Us, 1)
		r(&m.RawUDPMsgsPerSec, 1)
		r(&m.RawUDPSentPerSec, 1)
		if t := m.benchMemberTotal; t != nil {
			r(&t.TotalMsgsPerSec, 1)
			r(&t.TotalSentPerSec, 1)
			r(&t.TotalP50Us, 1)
			r(&t.TotalP99Us, 1)
		}
	}
}

func (res *benchResult) print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "members\tsize\tduration\tsenders\tstack msgs/s\tMB/s\tp50\tp99\traw UDP msgs/s\tratio")
	fmt.Fprintf(tw, "%d\t%d B\t%v\t%s\t%s\t%.1f\t%s\t%s\t%s\t%.2f\n",
		res.Members, res.Size, time.Duration(res.DurationS*float64(time.Second)), res.Senders,
		benchCount(res.MsgsPerSec), res.MBPerSec, benchMicros(res.P50Us), benchMicros(res.P99Us),
		benchCount(res.RawUDPMsgsPerSec), res.RatioVsRawUDP)
	if t := res.benchTotalResult; t != nil {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "with total order\tmsgs/s\tMB/s\tp50\tp99\tvs stack")
		fmt.Fprintf(tw, "\t%s\t%.1f\t%s\t%s\t%.2f\n",
			benchCount(t.TotalMsgsPerSec), t.TotalMBPerSec, benchMicros(t.TotalP50Us), benchMicros(t.TotalP99Us), t.RatioTotalVsStack)
	}
	fmt.Fprintln(tw)
	header := "member\trole\tstack msgs/s\tsent msgs/s\tp50\tp99\traw UDP msgs/s\tmax RSS\tretransmitted\tdrops"
	if res.benchTotalResult != nil {
		header += "\ttotal order msgs/s\tp50\tp99"
	}
	fmt.Fprintln(tw, header)
	for _, m := range res.PerMember {
		raw := benchCount(m.RawUDPMsgsPerSec)
		if m.RawUDPSentPerSec > 0 {
			raw += fmt.Sprintf(" (sent %s)", benchCount(m.RawUDPSentPerSec))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d",
			m.Rank, m.Role, benchCount(m.MsgsPerSec), benchCount(m.SentPerSec), benchMicros(m.P50Us), benchMicros(m.P99Us),
			raw, benchKiB(m.MaxRSSKB), m.Retransmissions, m.Drops)
		if t := m.benchMemberTotal; t != nil {
			fmt.Fprintf(tw, "\t%s\t%s\t%s", benchCount(t.TotalMsgsPerSec), benchMicros(t.TotalP50Us), benchMicros(t.TotalP99Us))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmsgs/s: messages delivered per second and member, mean over members (slowest %s);\n"+
		"raw UDP: messages received (each as datagrams of at most 1400 bytes), mean over receiving members; ratio = stack / raw UDP\n",
		benchCount(res.MinMsgsPerSec))
	if t := res.benchTotalResult; t != nil {
		fmt.Fprintf(w, "total order: the same multicasts in a group with total order (slowest %s); vs stack = total order / stack\n",
			benchCount(t.TotalMinMsgsPerSec))
	}
	if res.Rate > 0 {
		fmt.Fprintf(w, "at %s messages per second per sender: one-way latency p50 %s, p99 %s; raw UDP datagrams p50 %s, p99 %s\n",
			benchCount(float64(res.Rate)), benchMicros(res.P50Us), benchMicros(res.P99Us), benchMicros(res.RawP50Us), benchMicros(res.RawP99Us))
	}
	if res.ViewChanges > 0 {
		fmt.Fprintf(w, "view changes during the stack phase: %d (every member stayed; each costs a flush)\n", res.ViewChanges)
	}
	if t := res.benchTotalResult; t != nil && t.TotalViewChanges > 0 {
		fmt.Fprintf(w, "view changes during the total order phase: %d (every member stayed; each costs a flush)\n", t.TotalViewChanges)
	}
	return nil
}

// benchCount formats a rate with thousands separators.
func benchCount(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// benchMicros formats a latency in µs, or in ms from a millisecond on.
func benchMicros(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.1f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func benchKiB(k uint64) string {
	if k == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(k)/1024)
}

// The member process.

func newBenchMemberCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "bench-member",
		Short:  "One member process of 'conclave bench', driven over stdin and stdout",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchMember(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}

var errBenchParentGone = errors.New("bench-member: standard input closed: the parent is gone")

// benchMember is a member process's state across the phases.
type benchMember struct {
	benchSetup
	rawConn *transport.UDPConn
	stackG  benchGroup // the stack phase's
	totalG  benchGroup // the total order phase's
}

// benchGroup is a group a member process joins for a multicast phase.
type benchGroup struct {
	conn  *transport.UDPConn
	addrs []netip.AddrPort       // every member's, by rank
	ranks map[netip.AddrPort]int // address → rank
	total bool                   // with total order
	group *conclave.Group        // after join
	view  conclave.View          // the view joined, of every member
}

func (bg *benchGroup) setAddrs(addrs []netip.AddrPort) {
	bg.addrs = addrs
	bg.ranks = make(map[netip.AddrPort]int, len(addrs))
	for r, a := range addrs {
		bg.ranks[a] = r
	}
}

func (bg *benchGroup) close() {
	if bg.group != nil {
		bg.group.Close()
	}
	if bg.conn != nil {
		bg.conn.Close()
	}
}

func runBenchMember(ctx context.Context, in io.Reader, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m := &benchMember{totalG: benchGroup{total: true}}
	var err error
	if m.rawConn, err = transport.ListenUDP(benchLoopback, transport.UDPOptions{}); err != nil {
		return err
	}
	defer m.rawConn.Close()
	// The total order phase's socket is bound whether it runs or not, so
	// that its address goes with the others in the hello.
	for _, bg := range []*benchGroup{&m.stackG, &m.totalG} {
		if bg.conn, err = transport.ListenUDP(benchLoopback, transport.UDPOptions{}); err != nil {
			return err
		}
		defer bg.close()
	}

	enc := json.NewEncoder(out)
	if err := enc.Encode(benchHello{Raw: m.rawConn.LocalAddr(), Stack: m.stackG.conn.LocalAddr(), Total: m.totalG.conn.LocalAddr()}); err != nil {
		return err
	}
	cmds := make(chan benchCommand, 4)
	go readBenchCommands(in, cmds, cancel)

	c, ok := <-cmds
	if !ok {
		return context.Cause(ctx)
	}
	if c.Cmd != benchCmdSetup || c.Setup == nil {
		return fmt.Errorf("bench-member: got %q, want setup", c.Cmd)
	}
	m.benchSetup = *c.Setup
	m.stackG.setAddrs(m.Stack)
	if m.Total != nil {
		if len(m.Total) != len(m.Stack) {
			return fmt.Errorf("bench-member: %d total order addresses for %d members", len(m.Total), len(m.Stack))
		}
		m.totalG.setAddrs(m.Total)
	}
	for c := range cmds {
		switch c.Cmd {
		case benchCmdRaw:
			rep, err := m.raw(ctx, c.Start)
			if err != nil {
				return fmt.Errorf("raw UDP: %w", err)
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
		case benchCmdJoin, benchCmdJoinTotal:
			bg := &m.stackG
			if c.Cmd == benchCmdJoinTotal {
				if m.Total == nil {
					return errors.New("bench-member: join-total without total order addresses")
				}
				// Every member has reported the stack phase, so none
				// needs this one in the first group any more; closing it
				// keeps the two groups from competing for the processor.
				m.stackG.close()
				bg = &m.totalG
			}
			if err := m.join(ctx, bg); err != nil {
				return fmt.Errorf("%s: %w", c.Cmd, err)
			}
			if err := enc.Encode(benchJoined{View: bg.view.ID.String()}); err != nil {
				return err
			}
		case benchCmdStack, benchCmdTotal:
			bg := &m.stackG
			if c.Cmd == benchCmdTotal {
				bg = &m.totalG
			}
			if bg.group == nil {
				return fmt.Errorf("bench-member: %s before joining its group", c.Cmd)
			}
			rep, err := m.multicast(ctx, bg, c.Start)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Cmd, err)
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
			if c.Cmd == benchCmdStack && m.Total != nil {
				continue
			}
			// Stay in the group until every member is done: the others
			// may still need this one's retransmissions and acks.
			for range cmds {
			}
			return nil
		default:
			return fmt.Errorf("bench-member: unknown command %q", c.Cmd)
		}
	}
	return context.Cause(ctx)
}

// readBenchCommands passes on the parent's lines; at the end of its input it
// cancels the member's work.
func readBenchCommands(in io.Reader, cmds chan<- benchCommand, cancel context.CancelCauseFunc) {
	defer close(cmds)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var c benchCommand
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			cancel(fmt.Errorf("bench-member: bad command: %w", err))
			return
		}
		cmds <- c
	}
	cancel(errBenchParentGone)
}

// benchWindow is the timing of a phase at a member, in Unix nanoseconds
// read from the member's clock: the phase starts at start and counts what
// happens from from to end.
type benchWindow struct {
	clock            benchutil.Clock
	start, from, end int64
}

func (m *benchMember) window(start int64) benchWindow {
	return benchWindow{
		clock: benchutil.NewClock(),
		start: start,
		from:  start + int64(benchWarmup(m.Duration)),
		end:   start + int64(m.Duration),
	}
}

// counts says whether t is within the counting window.
func (w *benchWindow) counts(t int64) bool { return t >= w.from && t < w.end }

func (w *benchWindow) seconds() float64 { return time.Duration(w.end - w.from).Seconds() }

// sleepUntil waits for the time t, or until ctx ends.
func (w *benchWindow) sleepUntil(ctx context.Context, t int64) error {
	d := time.Duration(t - w.clock.Now())
	if d <= 0 {
		return nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// raw runs the plain UDP phase: senders send datagrams to every other
// member, as fast as the socket takes them or at the rate; everyone counts
// what arrives in the window, and with a rate records the latency of each
// datagram from its send time. The raw socket is closed at the end.
func (m *benchMember) raw(ctx context.Context, start int64) (benchRawReport, error) {
	w := m.window(start)
	conn := m.rawConn
	var received uint64
	var lat *benchutil.Histogram
	if m.Rate > 0 {
		lat = &benchutil.Histogram{}
	}
	recvDone := make(chan error, 1)
	go func() {
		pkts := make([]transport.Incoming, 32)
		for {
			n, err := conn.ReadBatch(pkts)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					err = nil
				}
				recvDone <- err
				return
			}
			if now := w.clock.Now(); w.counts(now) {
				received += uint64(n)
				if lat != nil {
					for _, p := range pkts[:n] {
						if len(p.Data) >= 8 {
							lat.Record(now - int64(binary.BigEndian.Uint64(p.Data)))
						}
					}
				}
			}
			clear(pkts[:n])
		}
	}()

	var sent uint64
	var err error
	if m.sends(m.Rank) {
		sent, err = m.blast(ctx, &w)
	}
	if err == nil {
		err = w.sleepUntil(ctx, w.end)
	}
	conn.Close()
	if rerr := <-recvDone; err == nil {
		err = rerr
	}
	k := uint64(m.datagramsPerMessage())
	rep := benchRawReport{Received: received / k, Sent: sent / k, Seconds: w.seconds(), UDP: benchUDPStats(conn), Latency: lat}
	return rep, err
}

// datagramsPerMessage is how many datagrams the raw phase sends a member
// for one message: the message cut into datagrams of the stack's size.
func (s *benchSetup) datagramsPerMessage() int {
	if s.Datagram <= 0 || s.Size <= s.Datagram {
		return 1
	}
	return (s.Size + s.Datagram - 1) / s.Datagram
}

// blast sends messages of the message size, each as datagrams of at most
// the stack's size, to every other member until the end of the window: in
// batches of whole messages as fast as the socket takes them, or one
// message at a time at the rate, each datagram then carrying its send time.
// It returns how many datagrams it sent in the window.
func (m *benchMember) blast(ctx context.Context, w *benchWindow) (uint64, error) {
	var others []netip.AddrPort
	for r, a := range m.Raw {
		if r != m.Rank {
			others = append(others, a)
		}
	}
	k := m.datagramsPerMessage()
	var chunks [][]byte
	for off := 0; off < m.Size; {
		n := min(m.Size-off, max(m.Datagram, 1))
		chunks = append(chunks, make([]byte, n))
		off += n
	}
	var pace *benchutil.Pacer
	perBatch := max(1, benchRawBatch/(len(others)*k))
	if m.Rate > 0 {
		pace = &benchutil.Pacer{Interval: time.Second / time.Duration(m.Rate)}
		perBatch = 1
	}
	var batch []transport.Outgoing
	for range perBatch {
		for _, a := range others {
			for _, c := range chunks {
				batch = append(batch, transport.Outgoing{To: a, Data: c})
			}
		}
	}
	if err := w.sleepUntil(ctx, w.start); err != nil {
		return 0, err
	}
	var sent uint64
	for ctx.Err() == nil {
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return sent, err
			}
		}
		now := w.clock.Now()
		if now >= w.end {
			return sent, nil
		}
		if pace != nil {
			for _, c := range chunks {
				if len(c) >= 8 {
					binary.BigEndian.PutUint64(c, uint64(now))
				}
			}
		}
		n, err := m.rawConn.WriteBatch(batch)
		if err != nil {
			return sent, err
		}
		if now >= w.from {
			sent += uint64(n)
		}
	}
	return sent, context.Cause(ctx)
}

// join joins bg's group on its socket and waits until this member is in a
// view of every member.
func (m *benchMember) join(ctx context.Context, bg *benchGroup) error {
	name := m.Group
	if bg.total {
		name += "/total"
	}
	g, err := conclave.Join(ctx, conclave.Config{
		Group:      name,
		Members:    bg.addrs,
		Self:       m.Rank,
		Conn:       bg.conn,
		TotalOrder: bg.total,
	})
	if err != nil {
		return err
	}
	bg.group = g
	ctx, cancel := context.WithTimeoutCause(ctx, benchJoinLimit,
		fmt.Errorf("no view of all %d members after %v", len(bg.addrs), benchJoinLimit))
	defer cancel()
	bg.view, err = g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == len(bg.addrs) })
	return benchCause(ctx, err)
}

// multicast runs a multicast phase (stack or total order) in bg's group:
// multicast until the end of the phase if a sender, deliver until every
// sender's end marker, and report. The group is left open for the parent to
// say when everyone is done.
func (m *benchMember) multicast(ctx context.Context, bg *benchGroup, start int64) (benchStackReport, error) {
	var rep benchStackReport
	g := bg.group
	if m.CPUProfile != "" {
		file := fmt.Sprintf("member-%d.pprof", m.Rank)
		if bg.total {
			file = fmt.Sprintf("member-%d-total.pprof", m.Rank)
		}
		f, err := os.Create(filepath.Join(m.CPUProfile, file))
		if err != nil {
			return rep, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return rep, err
		}
		defer pprof.StopCPUProfile()
	}
	w := m.window(start)
	ctx, cancel := context.WithDeadlineCause(ctx, time.Unix(0, w.end).Add(benchDrainLimit),
		fmt.Errorf("not drained %v after the end of the phase", benchDrainLimit))
	defer cancel()

	type castResult struct {
		sent uint64
		err  error
	}
	cast := make(chan castResult, 1)
	if m.sends(m.Rank) {
		go func() {
			n, err := m.cast(ctx, g, &w)
			cast <- castResult{n, err}
		}()
	} else {
		cast <- castResult{}
	}
	rep, err := m.deliver(ctx, bg, &w)
	if err != nil {
		cancel()
	}
	cr := <-cast
	if err == nil {
		err = cr.err
	}
	if err != nil {
		return rep, err
	}
	rep.Sent = cr.sent
	cs, err := g.Counters()
	if err != nil {
		return rep, err
	}
	for _, c := range cs {
		switch {
		case c.Name == "retransmitted":
			rep.Retransmissions += c.Value
		case strings.HasPrefix(c.Name, "drop.") && c.Value > 0:
			rep.Drops += c.Value
			if rep.DropReasons == nil {
				rep.DropReasons = make(map[string]uint64)
			}
			rep.DropReasons[c.Layer+"."+c.Name] += c.Value
		}
	}
	rep.UDP = benchUDPStats(bg.conn)
	rep.MaxRSSKB = benchutil.PeakRSSKB()
	return rep, nil
}

// cast multicasts messages of the message size as fast as flow control
// allows, or at the rate, until the end of the window, then an end marker one byte longer.
// Each message carries its send time and sequence number when it is long
// enough. It returns how many it sent in the window.
func (m *benchMember) cast(ctx context.Context, g *conclave.Group, w *benchWindow) (uint64, error) {
	if err := w.sleepUntil(ctx, w.start); err != nil {
		return 0, err
	}
	msg := make([]byte, m.Size+1)
	var seq, sent uint64
	var pace *benchutil.Pacer
	if m.Rate > 0 {
		pace = &benchutil.Pacer{Interval: time.Second / time.Duration(m.Rate)}
	}
	for {
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return sent, benchCause(ctx, err)
			}
		}
		now := w.clock.Now()
		if now >= w.end {
			break
		}
		if m.Size >= benchHeader {
			binary.BigEndian.PutUint64(msg[0:], uint64(now))
			binary.BigEndian.PutUint64(msg[8:], seq)
		}
		if err := g.Multicast(ctx, msg[:m.Size]); err != nil {
			return sent, fmt.Errorf("multicast %d: %w", seq, benchCause(ctx, err))
		}
		if now >= w.from {
			sent++
		}
		seq++
	}
	if m.Size >= benchHeader {
		binary.BigEndian.PutUint64(msg[0:], uint64(w.clock.Now()))
		binary.BigEndian.PutUint64(msg[8:], seq)
	}
	if err := g.Multicast(ctx, msg); err != nil {
		return sent, fmt.Errorf("multicast the end marker: %w", benchCause(ctx, err))
	}
	return sent, nil
}

// deliver counts deliveries in the window and records the latency of other
// members' messages, checking that each sender's arrive in order with none
// missing, until it has every sender's end marker. It hashes the order of
// all deliveries.
func (m *benchMember) deliver(ctx context.Context, bg *benchGroup, w *benchWindow) (benchStackReport, error) {
	rep := benchStackReport{Seconds: w.seconds(), Latency: &benchutil.Histogram{}, Order: benchOrderSeed}
	g := bg.group
	next := make([]uint64, len(bg.addrs))
	var pace *benchutil.Pacer
	if m.slow() {
		pace = &benchutil.Pacer{Interval: m.SlowReceiver}
	}
	events := g.Events()
	inView := false
	for ended := 0; ended < m.senders(); {
		// Take a waiting event without the cost of a two-way select, which
		// at a million events a second would be the bench measuring itself.
		var ev conclave.Event
		var ok bool
		select {
		case ev, ok = <-events:
		default:
			select {
			case ev, ok = <-events:
			case <-ctx.Done():
				return rep, fmt.Errorf("%w: end markers from %d of %d senders, messages delivered from each: %v",
					context.Cause(ctx), ended, m.senders(), next)
			}
		}
		if !ok {
			_, err := g.Counters()
			return rep, fmt.Errorf("the group stopped: %v", err)
		}
		now := w.clock.Now()
		switch ev.Kind {
		case conclave.Message:
		case conclave.Block:
			continue
		case conclave.ViewChange:
			// The views that led to the full one come first. A view change
			// after it that keeps every member costs only time; one that
			// loses a member ends the bench, as its messages stop.
			if !inView {
				inView = ev.View.ID == bg.view.ID
				continue
			}
			rep.ViewChanges++
			if len(ev.View.Members) < len(bg.addrs) {
				return rep, fmt.Errorf("the group lost members during the phase: view %v has %d of %d (failed %v, left %v); "+
					"a member that is starved of CPU or whose datagrams are dropped may be suspected",
					ev.View.ID, len(ev.View.Members), len(bg.addrs), ev.Failed, ev.Left)
			}
			continue
		default:
			return rep, fmt.Errorf("unexpected %v event", ev.Kind)
		}
		from, known := bg.ranks[ev.From.Addr]
		if !known || !m.sends(from) {
			return rep, fmt.Errorf("delivery from %v, which does not send", ev.From)
		}
		marker := len(ev.Data) == m.Size+1
		if !marker && len(ev.Data) != m.Size {
			return rep, fmt.Errorf("delivery of %d bytes from member %d, want %d", len(ev.Data), from, m.Size)
		}
		if m.Size >= benchHeader {
			if seq := binary.BigEndian.Uint64(ev.Data[8:]); seq != next[from] {
				what := "a gap"
				if seq < next[from] {
					what = "a duplicate"
				}
				return rep, fmt.Errorf("the stack delivered message %d from member %d where %d was due (%s)", seq, from, next[from], what)
			}
		}
		rep.Order = benchOrderHash(rep.Order, from, next[from])
		next[from]++
		if marker {
			ended++
			continue
		}
		if w.counts(now) {
			rep.Delivered++
			if m.Size >= benchHeader && from != m.Rank {
				rep.Latency.Record(now - int64(binary.BigEndian.Uint64(ev.Data)))
			}
		}
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// benchOrderSeed and benchOrderHash hash the order of deliveries (FNV-1a of
// each delivery's sender and index in its sender's stream).
const benchOrderSeed = 14695981039346656037

func benchOrderHash(h uint64, from int, index uint64) uint64 {
	for _, x := range [2]uint64{uint64(from), index} {
		for range 8 {
			h ^= x & 0xff
			h *= 1099511628211
			x >>= 8
		}
	}
	return h
}

// benchCause prefers the reason ctx ended to err, which then is only its
// symptom.
func benchCause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}

// benchUDP is a member's transport statistics for one phase: datagrams and
// system calls, so datagrams per call is the batching the OS saw.
type benchUDP struct {
	Sent         uint64 `json:"sent"`
	WriteBatches uint64 `json:"write_batches"`
	Received     uint64 `json:"received"`
	ReadBatches  uint64 `json:"read_batches"`
}

func benchUDPStats(c *transport.UDPConn) benchUDP {
	s := c.Stats()
	return benchUDP{Sent: s.Sent, WriteBatches: s.WriteBatches, Received: s.Received, ReadBatches: s.ReadBatches}
}
