package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
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
	seeds     int
	seedStart uint64
	members   int
	messages  int
	faults    string
	json      bool
}

// simShownViolations is how many violations of a failing seed are printed.
const simShownViolations = 5

func newSimCmd() *cobra.Command {
	var o simOptions
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Check the protocol stack in deterministic simulation over many seeds",
		Long: `sim runs a group of protocol stacks on a simulated network, under a virtual
clock, once per seed. Each seed decides everything: the workload, the faults
the network injects, the stacks' own randomness. So a failing seed replays
exactly, with the command printed under it.

Every member multicasts --messages messages (a few of them large enough to be
fragmented) and sends a quarter as many point-to-point messages, at random
times in the first 500ms. The faults stay on afterwards, and a checker
requires that, within 60s of virtual time, every multicast is delivered
exactly once to every member in its sender's order with the bytes sent,
every point-to-point message exactly once to its destination only, and
nothing else at all.

Faults (--faults, comma-separated; name=value sets another level, as in
loss=0.05 or loss=5%, delay=2ms):
` + sim.FaultHelp() + `
Output: for each failing seed its first violations and the replay command,
then the line 'seeds=N violations=V', V counting the seeds that failed. The
exit status is 0 only if V is 0. Progress goes to stderr every second.`,
		Example: `  conclave sim --seeds 500 --faults loss,dup,reorder,delay
  conclave sim --seeds 1 --seed-start 42 --members 5 --faults loss`,
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
	f.StringVar(&o.faults, "faults", "", "network faults: "+strings.Join(sim.FaultNames(), ",")+" or a subset (default none)")
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
	case o.seedStart+uint64(o.seeds-1) < o.seedStart:
		return fmt.Errorf("--seed-start %d: seeds would wrap around", o.seedStart)
	}
	faults, err := sim.ParseFaults(o.faults)
	if err != nil {
		return err
	}
	base := sim.Config{Members: o.members, Messages: o.messages, Sends: o.messages / 4, Faults: faults}
	if err := base.Validate(); err != nil {
		return err
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
	elapsed := time.Since(start)

	if o.json {
		if err := printSimJSON(stdout, o, faults, results, failed, elapsed); err != nil {
			return err
		}
	} else {
		var virtual time.Duration
		delivered := 0
		for _, out := range results {
			virtual += out.res.VirtualTime
			delivered += out.res.Delivered
		}
		fmt.Fprintf(stderr, "sim: %d seeds in %s: %d deliveries, %s of virtual time\n", o.seeds, elapsed.Round(time.Millisecond), delivered, virtual.Round(time.Millisecond))
		fmt.Fprintf(stdout, "seeds=%d violations=%d\n", o.seeds, failed)
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
	return fmt.Sprintf("conclave sim --seeds 1 --seed-start %d --members %d --messages %d --faults %s",
		cfg.Seed, cfg.Members, cfg.Messages, faults)
}

// simJSON is the --json output.
type simJSON struct {
	Seeds      int          `json:"seeds"`
	SeedStart  uint64       `json:"seed_start"`
	Members    int          `json:"members"`
	Messages   int          `json:"messages"`
	Faults     string       `json:"faults"`
	Violations int          `json:"violations"` // seeds that failed
	ElapsedMS  int64        `json:"elapsed_ms"`
	Results    []simSeedOut `json:"results"`
}

type simSeedOut struct {
	Seed          uint64   `json:"seed"`
	OK            bool     `json:"ok"`
	Trace         string   `json:"trace"`
	Sent          int      `json:"sent"`
	Delivered     int      `json:"delivered"`
	Drops         uint64   `json:"drops"`
	VirtualTimeMS float64  `json:"virtual_time_ms"`
	Violations    []string `json:"violations,omitempty"`
	Replay        string   `json:"replay,omitempty"`
}

func printSimJSON(w io.Writer, o simOptions, faults sim.Faults, results []*simOutcome, failed int, elapsed time.Duration) error {
	doc := simJSON{
		Seeds:      o.seeds,
		SeedStart:  o.seedStart,
		Members:    o.members,
		Messages:   o.messages,
		Faults:     faults.String(),
		Violations: failed,
		ElapsedMS:  elapsed.Milliseconds(),
		Results:    make([]simSeedOut, 0, len(results)),
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
			VirtualTimeMS: float64(r.VirtualTime) / float64(time.Millisecond),
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
