package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave/internal/sim"
)

func init() { commands = append(commands, newSimCmd) }

// simOptions are the flags of conclave sim.
type simOptions struct {
	seeds      int
	seedStart  uint64
	members    int
	messages   int
	active     time.Duration
	faults     string
	total      bool
	attackers  bool
	insecure   bool
	senderAuth bool
	part       bool
	trace      bool
	json       bool
}

// simShownViolations is how many violations of a failing seed are printed.
const simShownViolations = 5

func newSimCmd() *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Check the protocol stack in deterministic simulation over many seeds",
		Long: `sim runs a group of members (the membership protocol around each view's
protocol stack) on a simulated network, under a virtual clock, once per
seed. Each seed decides everything: the workload, the faults, the members'
own randomness. So a failing seed replays exactly, with the command printed
under it, and --trace shows everything that happened in it.

Each seed runs in phases:
  forming  the members start alone and must find each other and agree on
           one view within 10s
  active   every member multicasts --messages messages (a few large enough
           to be fragmented) and sends a quarter as many point-to-point
           messages, at random times over 500ms, or 3s with membership
           faults (--active sets it), which happen only now
  quiet    membership faults stop and partitions heal; within 10s every
           live member that has not left must share one view
  final    every live member multicasts 5 messages and sends one to each
           other member; within 10s all must arrive everywhere
Network faults stay on throughout.

With --attackers an adversary attacks each seed from forming to final
with a hostile datagram every 2ms: in members' names (sequence numbers
below what was delivered, beyond the receive window and near 2^64-1,
10-byte and non-minimal varints, NAK floods, bundles packed to the limit
and past the datagram size, huge stability gossip), from strangers
(Probes claiming larger views, merge requests naming made-up joiners at
third addresses, Flush, Sync and Install from non-members; strangers
that read what is sent to them, fetch cookies and prove their address to
ask to be merged in) and replays of recorded traffic. Besides the checks below it then checks that no
member panics, that each holds no more state than its stated bound
(stack and membership), sends a stranger at most 3 times the bytes it
received from it, sends nothing to a third address named only inside a
hostile datagram, and retransmits a message to a requester at most once
per NAK interval. A forgery in a member's name at a sequence number that
member may still use is left out: before authentication exists that is
something the member could do itself (--sender-auth brings it in).

By default every member is secured by membership/secure's participant:
a Noise key drawn from the seed, the allow list of the run's keys as the
admission check, an MLS epoch committed in every view change and confirmed
by every member before any installs it, control messages signed by their
sender (a reply to one member MACed under a key of the two, a routine
one under the view's epoch), and rekey
rounds when a view has lasted 150ms during the active phase. The checker
then also checks that every member of a view installed the same epoch
(compared by a digest, never the secret), that every member confirmed it
before the first installed it, and that no process holds the epoch of a
view it did not install or is not in. With --attackers the secured group
also faces: an outsider with a Noise key not on the allow list and one
with no key, each running the protocol and trying to join throughout;
replays of sealed control messages members accepted; ex-members (every
process that left or crashed keeps its keys) processing the commits of
later views and sending control messages sealed with their old keys; and
insiders forging another member's Suspect or Leave with their own keys.
Each attempt must fail; the summary counts them by attacker and reason.
--insecure runs the plain stack instead (no participant).

A secured group's stacks seal every datagram (encrypt above bottom) and
every Send for its recipient alone (private above pt2pt); --sender-auth
adds sign above mnak, so that every multicast is signed by its sender.
The checker reports a key and nonce sealed twice in a run. With
--attackers, ex-members keep the keys of their last views and try them on
later data datagrams recorded from the wire, and joiners on datagrams
recorded before their first view: none may open. With --sender-auth
too, insiders open another member's multicast as it goes out and send a
third member, as their own retransmission sealed under their next
nonce, that message altered, or a message claiming its sender at one of
its sequence numbers already used or still to come; the checker reports
any multicast delivered that its claimed sender did not multicast at
that index, and the summary counts the batches sign verified and
refused. A forgery its target keeps takes the real message's place in
mnak's stream there, so the target loses that batch: the checker excuses
that loss at that member in that view, and only it.

With --participant every member has the test participant of
membership/membershiptest: joiners are admitted by a three-message
handshake under a pre-shared key, every view change prepares a decision
(a toy key agreement, in fragments at some seeds, decided by a member the
coordinator delegates to at others) that every member of the next view
processes and confirms before any installs it, control messages travel
under each view's MAC, and during the active phase the group rekeys when a
view has lasted 150ms. The checker then also checks that every member
installed each view with a decision, the same at every member of the view,
and that every member of a view confirmed its decision before the first
installed it.

The checker holds every member's events to virtual synchrony: a view id
names the same members everywhere; each member installs views in
increasing order; every member of a view agreed to it (so a crashed or
departed member is never in a later view; a restart is a new endpoint);
members that move from one view to the same next view delivered the same
messages in it (in the same order with --total); per sender, delivery is
FIFO, exactly once, with the bytes sent, only from members of the
receiver's view; a member delivers its own multicast in the view it sent it
in, and eventually delivers all of them. Without membership faults, every
message must also reach every member.

Faults (--faults, comma-separated; name=value sets another level, as in
loss=0.05 or loss=5%, delay=2ms):
` + sim.FaultHelp() + `
Output: for each failing seed its first violations and the replay command,
then the line 'seeds=N violations=V', V counting the seeds that failed. The
exit status is 0 only if V is 0. Progress goes to stderr every second.`,
		Example: `  conclave sim --seeds 500 --faults loss,dup,reorder,delay
  conclave sim --seeds 1000 --members 5 --faults all
  conclave sim --seeds 1 --seed-start 42 --members 5 --faults all --trace
  conclave sim --seeds 300 --members 4 --faults all --attackers
  conclave sim --seeds 300 --members 5 --faults all --insecure
  conclave sim --seeds 300 --members 5 --faults all --participant`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSim(cmd.OutOrStdout(), cmd.ErrOrStderr(), o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.seeds, "seeds", 100, "number of seeds to run")
	f.Uint64Var(&o.seedStart, "seed-start", 1, "first seed; seeds run from it up")
	f.IntVar(&o.members, "members", 3, fmt.Sprintf("members in the group (1 to %d)", sim.MaxMembers))
	f.IntVar(&o.messages, "messages", 100, "multicasts each member sends per seed")
	f.DurationVar(&o.active, "active", 0, "the active phase (workload and membership faults); 0: 500ms, or 3s with membership faults")
	f.StringVar(&o.faults, "faults", "", "faults: a list of "+strings.Join(sim.FaultNames(), ", ")+" (default none)")
	f.BoolVar(&o.total, "total", false, "run the total order stack and check total order")
	f.BoolVar(&o.attackers, "attackers", false, "attack every seed with hostile datagrams and check what they must not achieve")
	f.BoolVar(&o.insecure, "insecure", false, "run the plain stack: no participant, no admission, no keys")
	f.BoolVar(&o.senderAuth, "sender-auth", false, "secured: add the sign layer, so that every multicast is signed by its sender")
	f.BoolVar(&o.part, "participant", false, "give every member the test participant (handshakes, decisions, sealed control messages, rekeys) in place of the secure one")
	f.BoolVar(&o.trace, "trace", false, "print everything that happens in the seed (with --seeds 1)")
	f.BoolVar(&o.json, "json", false, "print one JSON document instead of text")
	return cmd
}

// simOutcome is one seed's run.
type simOutcome struct {
	i   int // seed - seedStart
	res sim.Result
	err error
}

func runSim(stdout, stderr io.Writer, o simOptions) error {
	switch {
	case o.seeds < 1:
		return fmt.Errorf("--seeds %d: want at least 1", o.seeds)
	case o.members < 1 || o.members > sim.MaxMembers:
		return fmt.Errorf("--members %d: want 1 to %d", o.members, sim.MaxMembers)
	case o.messages < 0:
		return fmt.Errorf("--messages %d: want 0 or more", o.messages)
	case o.active < 0 || o.active > time.Minute:
		return fmt.Errorf("--active %v: want 0 to 1m", o.active)
	case o.seedStart+uint64(o.seeds-1) < o.seedStart:
		return fmt.Errorf("--seed-start %d: seeds would wrap around", o.seedStart)
	case o.trace && o.seeds != 1:
		return fmt.Errorf("--trace: traces one seed; add --seeds 1")
	case o.trace && o.json:
		return errors.New("--trace and --json do not go together")
	case o.insecure && o.part:
		return errors.New("--insecure and --participant do not go together: the plain stack has no participant")
	case o.senderAuth && (o.insecure || o.part):
		return errors.New("--sender-auth needs the secured group: not with --insecure or --participant")
	}
	faults, err := sim.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	base := sim.Config{Members: o.members, Messages: o.messages, Sends: o.messages / 4, Faults: faults, Total: o.total, Attackers: o.attackers, Participant: o.part, Secure: !o.insecure && !o.part, SenderAuth: o.senderAuth, Active: o.active}
	if err := base.Validate(); err != nil {
		return err
	}
	if o.trace {
		base.Seed = o.seedStart
		res, err := sim.RunLog(base, stdout)
		if err != nil {
			return err
		}
		return finishSim(stdout, stderr, o, faults, []*simOutcome{{res: res}}, time.Duration(0))
	}

	start := time.Now()
	outcomes := make(chan simOutcome)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), o.seeds) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= o.seeds {
					return
				}
				cfg := base
				cfg.Seed = o.seedStart + uint64(i)
				res, err := sim.Run(cfg)
				outcomes <- simOutcome{i: i, res: res, err: err}
			}
		})
	}
	go func() { wg.Wait(); close(outcomes) }()

	// Report in seed order, whatever order the workers finish in, so that
	// the output of a run does not depend on scheduling.
	results := make([]*simOutcome, o.seeds)
	reported, done, failed := 0, 0, 0
	var runErr error
	progress := time.NewTicker(time.Second)
	defer progress.Stop()
	for outcomes != nil {
		select {
		case out, ok := <-outcomes:
			if !ok {
				outcomes = nil
				continue
			}
			results[out.i] = &out
			done++
			if out.err != nil && runErr == nil {
				runErr = out.err
			}
			if !out.res.OK() {
				failed++
			}
			for ; reported < o.seeds && results[reported] != nil; reported++ {
				if !o.json {
					printSimFailure(stdout, &results[reported].res)
				}
			}
		case <-progress.C:
			fmt.Fprintf(stderr, "sim: %d/%d seeds, %d failed, %s\n", done, o.seeds, failed, time.Since(start).Round(100*time.Millisecond))
		}
	}
	if runErr != nil {
		return runErr
	}
	return finishSim(stdout, stderr, o, faults, results, time.Since(start))
}

// finishSim prints the summary of the seeds run and returns the exit
// status.
func finishSim(stdout, stderr io.Writer, o simOptions, faults sim.Faults, results []*simOutcome, elapsed time.Duration) error {
	failed := 0
	for _, out := range results {
		if !out.res.OK() {
			failed++
		}
	}
	if o.json {
		if err := printSimJSON(stdout, o, faults, results, failed, elapsed); err != nil {
			return err
		}
	} else {
		if o.trace {
			printSimFailure(stdout, &results[0].res)
		}
		var virtual, slowest time.Duration
		var delivered, views, decided, rekeys, crashes, restarts, joins, leaves, partitions int
		var forged, denied int
		var signed, refused uint64 // batches sign verified, batches it refused
		attempts := make(map[[2]string]int)
		for _, out := range results {
			r := &out.res
			virtual += r.VirtualTime
			delivered += r.Delivered
			views += r.Views
			decided += r.Decided
			rekeys += r.Rekeys
			crashes += r.Crashes
			restarts += r.Restarts
			joins += r.Joins
			leaves += r.Leaves
			partitions += r.Partitions
			slowest = max(slowest, r.Converged)
			for _, a := range r.Attempts {
				attempts[[2]string{a.Kind, a.Reason}] += a.Count
			}
			forged, denied = forged+r.Forged, denied+r.Denied
			signed, refused = signed+r.SignVerified, refused+r.SignRefused
		}
		fmt.Fprintf(stderr, "sim: %d seeds in %s: %d deliveries, %d views, %s of virtual time\n", len(results), elapsed.Round(time.Millisecond), delivered, views, virtual.Round(time.Millisecond))
		switch {
		case o.part:
			fmt.Fprintf(stderr, "sim: %d views installed with a decision, checked at every member; %d rekey rounds\n", decided, rekeys)
		case !o.insecure:
			fmt.Fprintf(stderr, "sim: %d views installed with an epoch, checked at every member; %d rekey rounds\n", decided, rekeys)
		}
		printAttempts(stderr, attempts)
		if o.senderAuth {
			fmt.Fprintf(stderr, "sim: sender authentication: %d batches verified, %d refused; %d forged multicasts delivered\n", signed, refused, forged)
			if o.attackers {
				fmt.Fprintf(stderr, "sim: insiders' forgeries kept by their target until its sign layer refused them and fetched the real messages: %d\n", denied)
			}
		}
		if faults.Membership() {
			fmt.Fprintf(stderr, "sim: %d crashes (%d restarted), %d joins, %d leaves, %d partitions; slowest convergence %s\n", crashes, restarts, joins, leaves, partitions, slowest.Round(time.Millisecond))
		}
		fmt.Fprintf(stdout, "seeds=%d violations=%d\n", len(results), failed)
	}
	if failed > 0 {
		return exitError{code: 1}
	}
	return nil
}

// printSimFailure prints a failing seed's first violations and how to
// replay it; nothing for a seed that passed.
func printSimFailure(w io.Writer, res *sim.Result) {
	if res.OK() {
		return
	}
	seed := res.Config.Seed
	for i, v := range res.Violations {
		if i == simShownViolations {
			fmt.Fprintf(w, "seed=%d violation: … %d more\n", seed, len(res.Violations)-i)
			break
		}
		fmt.Fprintf(w, "seed=%d violation: %s\n", seed, v)
	}
	fmt.Fprintf(w, "replay: %s\n", simReplay(res.Config))
}

// simReplay is the command that runs cfg again.
func simReplay(cfg sim.Config) string {
	faults := cfg.Faults.String()
	if faults == "" {
		faults = `""`
	}
	flags := ""
	if cfg.Total {
		flags += " --total"
	}
	if cfg.Attackers {
		flags += " --attackers"
	}
	switch {
	case cfg.Participant:
		flags += " --participant"
	case !cfg.Secure:
		flags += " --insecure"
	}
	if cfg.SenderAuth {
		flags += " --sender-auth"
	}
	if cfg.Active != 0 && cfg.Active != (sim.Config{Faults: cfg.Faults}).WithDefaults().Active {
		flags += " --active " + cfg.Active.String()
	}
	return fmt.Sprintf("conclave sim --seeds 1 --seed-start %d --members %d --messages %d --faults %s%s",
		cfg.Seed, cfg.Members, cfg.Messages, faults, flags)
}

// simJSON is the --json output.
type simJSON struct {
	Seeds       int          `json:"seeds"`
	SeedStart   uint64       `json:"seed_start"`
	Members     int          `json:"members"`
	Messages    int          `json:"messages"`
	Faults      string       `json:"faults"`
	Total       bool         `json:"total"`
	Attackers   bool         `json:"attackers"`
	Participant bool         `json:"participant"`
	Secure      bool         `json:"secure"`
	SenderAuth  bool         `json:"sender_auth,omitempty"`
	Violations  int          `json:"violations"` // seeds that failed
	ElapsedMS   int64        `json:"elapsed_ms"`
	Results     []simSeedOut `json:"results"`
}

type simSeedOut struct {
	Seed          uint64  `json:"seed"`
	OK            bool    `json:"ok"`
	Trace         string  `json:"trace"`
	Sent          int     `json:"sent"`
	Delivered     int     `json:"delivered"`
	Drops         uint64  `json:"drops"`
	Attacks       int     `json:"attacks,omitempty"`
	VirtualTimeMS float64 `json:"virtual_time_ms"`
	FormedMS      float64 `json:"formed_ms"`
	ConvergedMS   float64 `json:"converged_ms"`
	Views         int     `json:"views"`
	Decided       int     `json:"decided,omitempty"` // with --participant
	Rekeys        int     `json:"rekeys,omitempty"`  // with a participant
	// Attempts are the secure group's attackers' attempts, by kind and
	// the reason each failed (with --attackers, secured).
	Attempts   []sim.Attempt `json:"attempts,omitempty"`
	Crashes    int           `json:"crashes"`
	Restarts   int           `json:"restarts"`
	Joins      int           `json:"joins"`
	Leaves     int           `json:"leaves"`
	Partitions int           `json:"partitions"`
	Violations []string      `json:"violations,omitempty"`
	Replay     string        `json:"replay,omitempty"`
}

func printSimJSON(w io.Writer, o simOptions, faults sim.Faults, results []*simOutcome, failed int, elapsed time.Duration) error {
	doc := simJSON{
		Seeds:       o.seeds,
		SeedStart:   o.seedStart,
		Members:     o.members,
		Messages:    o.messages,
		Faults:      faults.String(),
		Total:       o.total,
		Attackers:   o.attackers,
		Participant: o.part,
		Secure:      !o.insecure && !o.part,
		SenderAuth:  o.senderAuth,
		Violations:  failed,
		ElapsedMS:   elapsed.Milliseconds(),
		Results:     make([]simSeedOut, 0, len(results)),
	}
	for _, out := range results {
		r := &out.res
		s := simSeedOut{
			Seed:          r.Config.Seed,
			OK:            r.OK(),
			Trace:         fmt.Sprintf("%016x", r.Trace),
			Sent:          r.Sent,
			Delivered:     r.Delivered,
			Drops:         r.Drops,
			Attacks:       r.Attacks,
			VirtualTimeMS: ms(r.VirtualTime),
			FormedMS:      ms(r.Formed),
			ConvergedMS:   ms(r.Converged),
			Views:         r.Views,
			Decided:       r.Decided,
			Rekeys:        r.Rekeys,
			Attempts:      r.Attempts,
			Crashes:       r.Crashes,
			Restarts:      r.Restarts,
			Joins:         r.Joins,
			Leaves:        r.Leaves,
			Partitions:    r.Partitions,
			Violations:    r.Violations,
		}
		if !r.OK() {
			s.Replay = simReplay(r.Config)
		}
		doc.Results = append(doc.Results, s)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return errors.New("writing the results: " + err.Error())
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// printAttempts prints the attackers' attempts, one line per kind, its
// reasons by count.
func printAttempts(w io.Writer, attempts map[[2]string]int) {
	if len(attempts) == 0 {
		return
	}
	byKind := make(map[string][]string)
	total := make(map[string]int)
	for k, n := range attempts {
		byKind[k[0]] = append(byKind[k[0]], fmt.Sprintf("%s %d", k[1], n))
		total[k[0]] += n
	}
	for _, kind := range slices.Sorted(maps.Keys(byKind)) {
		reasons := byKind[kind]
		slices.Sort(reasons)
		fmt.Fprintf(w, "sim: %s: %d attempts: %s\n", kind, total[kind], strings.Join(reasons, ", "))
	}
}
