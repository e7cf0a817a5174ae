package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/layers"
)

// Run is the parent: it starts the members, runs the phases and prints the
// result to stdout, as tables or as one line of JSON; progress and the
// members' standard error go to stderr. The options must have passed
// Check.
func Run(ctx context.Context, o Options, stdout, stderr io.Writer) (err error) {
	argv := o.Member
	if len(argv) == 0 {
		self, err := os.Executable()
		if err != nil {
			return fmt.Errorf("cannot find this program to start the members: %w", err)
		}
		argv = []string{self, MemberCommand}
	}
	if ctx == nil {
		ctx = context.Background()
	}
	limit := time.Duration(o.phases())*o.Duration + margin
	ctx, cancel := context.WithTimeoutCause(ctx, limit, fmt.Errorf("the bench did not finish within %v", limit))
	defer cancel()
	logw := &logWriter{w: stderr}
	progress := func(format string, args ...any) { fmt.Fprintf(logw, "conclave: "+format+"\n", args...) }

	progress("starting %d members…", o.Members)
	ws := make([]*benchutil.Worker, 0, o.Members)
	defer func() {
		if err == nil {
			return
		}
		cancel() // kills them
		for _, w := range ws {
			w.Wait(context.Background())
		}
	}()
	for r := range o.Members {
		w, err := benchutil.StartWorker(ctx, fmt.Sprintf("member %d", r), logw, argv[0], argv[1:]...)
		if err != nil {
			return err
		}
		ws = append(ws, w)
	}
	hellos, err := recvAll[hello](ctx, ws)
	if err != nil {
		return err
	}
	base := setup{
		Group:         fmt.Sprintf("conclave-bench-%d-%d", os.Getpid(), time.Now().UnixNano()),
		Size:          o.Size,
		Rate:          o.Rate,
		Datagram:      layers.DefaultMaxDatagram,
		Duration:      o.Duration,
		AllSend:       o.Senders == "all",
		SlowReceiver:  o.SlowReceiver,
		Suspect:       o.Suspect,
		CPUProfile:    o.CPUProfile,
		SenderAuth:    o.SenderAuth,
		IntegrityOnly: o.IntegrityOnly,
	}
	for _, h := range hellos {
		base.Raw = append(base.Raw, h.Raw)
		base.Stack = append(base.Stack, h.Stack)
		if o.Total {
			base.Total = append(base.Total, h.Total)
		}
		if o.ComparePlain {
			base.Plain = append(base.Plain, h.Plain)
		}
		if !o.Insecure {
			base.Keys = append(base.Keys, h.Key)
		}
	}
	for r, w := range ws {
		s := base
		s.Rank = r
		if err := w.Send(command{Cmd: cmdSetup, Setup: &s}); err != nil {
			return err
		}
	}

	progress("raw UDP baseline (%v)…", o.Duration)
	raws, err := runPhase[rawReport](ctx, ws, cmdRaw)
	if err != nil {
		return err
	}
	var plains []stackReport
	if o.ComparePlain {
		progress("plain stack: joining a group without keys…")
		if err := joinAll(ctx, ws, cmdJoinPlain); err != nil {
			return err
		}
		progress("plain stack (%v)…", o.Duration)
		if plains, err = runPhase[stackReport](ctx, ws, cmdPlain); err != nil {
			return err
		}
	}
	progress("%s stack: joining the group…", o.protection())
	if err := joinAll(ctx, ws, cmdJoin); err != nil {
		return err
	}
	progress("%s stack (%v)…", o.protection(), o.Duration)
	stacks, err := runPhase[stackReport](ctx, ws, cmdStack)
	if err != nil {
		return err
	}
	var totals []stackReport
	if o.Total {
		progress("total order: joining a second group, with total order…")
		if err := joinAll(ctx, ws, cmdJoinTotal); err != nil {
			return err
		}
		progress("total order (%v)…", o.Duration)
		if totals, err = runPhase[stackReport](ctx, ws, cmdTotal); err != nil {
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
	if o.CPUProfile != "" {
		what := "the stack phase (member-R.pprof)"
		if o.ComparePlain {
			what += ", the plain stack phase (member-R-plain.pprof)"
		}
		if o.Total {
			what += ", the total order phase (member-R-total.pprof)"
		}
		progress("CPU profiles of %s in %s", what, o.CPUProfile)
	}

	res := summarize(o, raws, stacks, totals)
	if plains != nil {
		res.summarizePlain(o, plains)
	}
	if o.JSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(stdout, "%s\n", b)
		return err
	}
	return res.Print(stdout)
}

// joinAll has every member join a group (cmd join or join-total) and
// checks that they all joined the same view.
func joinAll(ctx context.Context, ws []*benchutil.Worker, cmd string) error {
	for _, w := range ws {
		if err := w.Send(command{Cmd: cmd}); err != nil {
			return err
		}
	}
	views, err := recvAll[joined](ctx, ws)
	if err != nil {
		return err
	}
	for r, j := range views {
		if j.View != views[0].View {
			return fmt.Errorf("members joined different views: member 0 is in %s, member %d in %s", views[0].View, r, j.View)
		}
	}
	return nil
}

// runPhase starts phase at every member and collects their reports.
func runPhase[T any](ctx context.Context, ws []*benchutil.Worker, phase string) ([]T, error) {
	start := time.Now().Add(phaseLead).UnixNano()
	for _, w := range ws {
		if err := w.Send(command{Cmd: phase, Start: start}); err != nil {
			return nil, err
		}
	}
	return recvAll[T](ctx, ws)
}

// recvAll reads one report from every worker. It returns the first
// error, so a member that fails is reported at once rather than after the
// others give up waiting for it.
func recvAll[T any](ctx context.Context, ws []*benchutil.Worker) ([]T, error) {
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

// logWriter serialises the lines that members and progress write.
type logWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
