package sim

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/conclave-go/conclave/membership"
)

// The run log (RunLog) is for people debugging one seed: one line per
// thing that happens, stamped with the virtual time, members named m0, m1,
// … by the order in which they started.

func (r *run) logf(format string, args ...any) {
	if r.log == nil {
		return
	}
	fmt.Fprintf(r.log, "%10.3fms  %s\n", float64(r.now.Microseconds())/1000, fmt.Sprintf(format, args...))
}

func (r *run) names(es []membership.Endpoint) string {
	s := make([]string, len(es))
	for i, e := range es {
		s[i] = r.checker.name(e)
	}
	return "[" + strings.Join(s, " ") + "]"
}

func (r *run) logEvent(p int, ev *membership.Event) {
	switch ev.Kind {
	case membership.Message:
		what := fmt.Sprintf("%d bytes", len(ev.Data))
		if id, ok := ParsePayload(ev.Data); ok {
			what = id.String()
		}
		kind := "send"
		if ev.Multicast {
			kind = "cast"
		}
		r.logf("m%d delivers %s (%s from %s)", p, what, kind, r.checker.name(ev.From))
	case membership.ViewChange:
		s := fmt.Sprintf("m%d installs %s", p, r.checker.viewString(ev.View.ID, ev.View.Members))
		if len(ev.Joined) > 0 {
			s += " joined " + r.names(ev.Joined)
		}
		if len(ev.Left) > 0 {
			s += " left " + r.names(ev.Left)
		}
		if len(ev.Failed) > 0 {
			s += " failed " + r.names(ev.Failed)
		}
		r.logf("%s", s)
	default:
		r.logf("m%d %v", p, ev.Kind)
	}
}

// logEnd writes each process's state and counters, and the violations.
func (r *run) logEnd() {
	if r.log == nil {
		return
	}
	for p, pr := range r.procs {
		if pr.m == nil {
			continue
		}
		r.logf("m%d %v (%v) in %s, backlog %d", p, pr.state, pr.self, r.viewOf(p), pr.m.Backlog())
		var cs []string
		for _, c := range sortedCounters(pr.m.Counters()) {
			cs = append(cs, fmt.Sprintf("%s.%s=%d", c.Layer, c.Name, c.Value))
		}
		fmt.Fprintf(r.log, "    %s\n", strings.Join(cs, " "))
	}
	for _, v := range r.checker.Violations() {
		r.logf("violation: %s", v)
	}
}

// protocolLog is a member's Logger in the run log: the membership
// protocol's own account of its decisions (suspicions, rounds started and
// why, timeouts, merges), each line stamped like the others.
type protocolLog struct {
	r    *run
	name string // m3, or an attacker's name
}

func (h *protocolLog) Enabled(context.Context, slog.Level) bool { return true }

func (h *protocolLog) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s", h.name, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	h.r.logf("%s", b.String())
	return nil
}

func (h *protocolLog) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *protocolLog) WithGroup(string) slog.Handler      { return h }
