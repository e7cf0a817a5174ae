package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
)

func init() { commands = append(commands, newMemberCmd) }

type memberFlags struct {
	listen   string
	seeds    []string
	group    string
	json     bool
	total    bool
	suspect  time.Duration
	logLevel string
}

func newMemberCmd() *cobra.Command {
	var f memberFlags
	cmd := &cobra.Command{
		Use:   "member --listen ADDR [--seed ADDR]... [--json]",
		Short: "Run one group member: stdin lines are multicast, deliveries and views printed",
		Long: `member runs one member of a group in this process.

It listens on --listen (an IP address and a UDP port) and finds the group
through the --seed addresses (any members' addresses; none to start a new
group). Each line read from standard input is multicast to the group. Every
delivered message and every view change is printed on standard output, as
text or, with --json, one JSON object per line:

  {"type":"view","view":"<id>","members":["<member>",...],"joined":[...],"left":[...],"failed":[...]}
  {"type":"deliver","from":"<member>","data":"<text>"}
  {"type":"block"}     a view change has begun
  {"type":"left"}      this member has left

A member is written ADDRESS#INCARNATION: the incarnation tells apart two runs
of a process at the same address. When standard input ends the member keeps
running; SIGINT or SIGTERM makes it leave the group gracefully and exit.

--log-level debug writes the membership protocol's decisions (suspicions,
view changes and why they started, timeouts, merges) to standard error.`,
		Example: `  conclave member --listen 127.0.0.1:7000
  conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMember(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on, IP:PORT (required)")
	fl.StringArrayVar(&f.seeds, "seed", nil, "address of a member to contact (repeatable)")
	fl.StringVar(&f.group, "group", "conclave", "group name")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	fl.BoolVar(&f.total, "total", false, "deliver multicasts in the same order at every member")
	fl.DurationVar(&f.suspect, "suspect", membership.DefaultTiming.Suspect, "suspect a member not heard from for this long")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log to standard error at this level and above: debug, info, warn, error")
	cmd.MarkFlagRequired("listen")
	return cmd
}

func runMember(ctx context.Context, in io.Reader, out, errOut io.Writer, f memberFlags) error {
	listen, err := netip.ParseAddrPort(f.listen)
	if err != nil {
		return fmt.Errorf("--listen: %v", err)
	}
	var seeds []netip.AddrPort
	for _, s := range f.seeds {
		a, err := netip.ParseAddrPort(s)
		if err != nil {
			return fmt.Errorf("--seed: %v", err)
		}
		seeds = append(seeds, a)
	}
	if f.suspect <= 0 {
		return errors.New("--suspect must be positive")
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: level}))
	timing := membership.Timing{Suspect: f.suspect, Flush: 2 * f.suspect, Stuck: 10 * f.suspect}
	g, err := conclave.Join(ctx, conclave.Config{Group: f.group, Listen: listen, Seeds: seeds, TotalOrder: f.total, Timing: timing, Logger: logger})
	if err != nil {
		return err
	}
	defer g.Close()

	w := bufio.NewWriter(out)
	p := &printer{w: w, json: f.json}
	p.print(map[string]any{"type": "ready", "self": g.Self().String()}, "member %v ready", g.Self())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Leave(lctx)
	}()
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if err := g.Multicast(ctx, sc.Bytes()); err != nil {
				return
			}
		}
	}()
	for ev := range g.Events() {
		switch ev.Kind {
		case conclave.Message:
			kind := "deliver"
			if !ev.Multicast {
				kind = "send"
			}
			p.print(map[string]any{"type": kind, "from": ev.From.String(), "data": string(ev.Data)}, "%v: %s", ev.From, ev.Data)
		case conclave.Block:
			p.print(map[string]any{"type": "block"}, "(view change under way)")
		case conclave.ViewChange:
			p.print(map[string]any{
				"type":    "view",
				"view":    ev.View.ID.String(),
				"members": names(ev.View.Members),
				"joined":  names(ev.Joined),
				"left":    names(ev.Left),
				"failed":  names(ev.Failed),
			}, "view %v: %s (joined: %s; left: %s; failed: %s)", ev.View.ID, strings.Join(names(ev.View.Members), " "),
				strings.Join(names(ev.Joined), " "), strings.Join(names(ev.Left), " "), strings.Join(names(ev.Failed), " "))
		case conclave.Left:
			p.print(map[string]any{"type": "left"}, "left the group")
		}
	}
	return nil
}

func names(es []conclave.Endpoint) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

// printer writes events for people or, with json, for programs, flushing
// after each so that a reader sees them at once.
type printer struct {
	w    *bufio.Writer
	json bool
}

func (p *printer) print(obj map[string]any, format string, args ...any) {
	if p.json {
		b, _ := json.Marshal(obj)
		p.w.Write(b)
		p.w.WriteByte('\n')
	} else {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
	p.w.Flush()
}
