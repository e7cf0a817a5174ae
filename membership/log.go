package membership

import (
	"context"
	"log/slog"
)

// debug logs a protocol decision. The member's own clock goes with it, so
// that lines from members of one process (or one simulation) line up.
func (m *Member) debug(msg string, args ...any) {
	if !m.debugging() {
		return
	}
	m.cfg.Logger.Debug(msg, append([]any{"self", m.self, "view", m.view.ID, "at", m.now}, args...)...)
}

// debugging reports whether debug lines are wanted, so that what only they
// would show is not worked out for nothing.
func (m *Member) debugging() bool {
	return m.cfg.Logger.Enabled(context.Background(), slog.LevelDebug)
}

// reasons says why the coordinator starts a view change, for the log.
func (m *Member) reasons() []string {
	var why []string
	for r, e := range m.view.Members {
		switch {
		case r == m.rank:
		case m.fd.suspects[r]:
			why = append(why, "suspects "+e.String())
		case m.fd.slandered[r]:
			why = append(why, "told "+e.String()+" failed")
		}
		if m.fd.leaving[r] {
			why = append(why, e.String()+" leaves")
		}
	}
	for _, pm := range m.merges {
		why = append(why, "merge request from "+pm.from.String())
	}
	return why
}
