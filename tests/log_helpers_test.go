package tests

import (
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
)

// protocolLog keeps the latest lines the members of a test log (their
// membership decisions, at debug level) and prints them if the test fails:
// a view change nobody expected is then explained by its cause.
type protocolLog struct {
	mu     sync.Mutex
	lines  []string
	pauses []pause // every pause a member logged, all of them
}

// protocolLogLines bounds the lines a failed test prints.
const protocolLogLines = 200

// newProtocolLog returns a logger for the members of t's group, and what it
// keeps; none for a benchmark, whose timings must not include formatting
// log lines.
func newProtocolLog(t testing.TB) (*slog.Logger, *protocolLog) {
	if _, bench := t.(*testing.B); bench {
		return nil, nil
	}
	l := &protocolLog{}
	t.Cleanup(func() {
		if !t.Failed() {
			return
		}
		l.mu.Lock()
		defer l.mu.Unlock()
		t.Logf("the members' last %d protocol log lines:\n  %s", len(l.lines), strings.Join(l.lines, "\n  "))
	})
	return slog.New(slog.NewTextHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug})), l
}

// Pauses returns the pauses the members logged so far.
func (l *protocolLog) Pauses() []pause {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.pauses)
}

// Write takes one record from the text handler, which writes each whole.
func (l *protocolLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.lines) == 2*protocolLogLines {
		l.lines = append(l.lines[:0], l.lines[protocolLogLines:]...)
	}
	line := strings.TrimSuffix(string(p), "\n")
	l.lines = append(l.lines, line)
	if ps, ok := parsePause(line); ok {
		l.pauses = append(l.pauses, ps)
	}
	return len(p), nil
}
