package tests

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// pause is one "this member was paused" line of a member's protocol log: the
// member noticed that it had not run for a while (descheduled, stopped,
// starved of the CPU). A pause as long as the failure detector's timeout
// makes the others suspect the member, or the member suspect them, and may
// split a group for a moment through no fault of the protocol.
type pause struct {
	self string        // the member that was paused
	end  time.Time     // when it noticed, by the log's clock
	d    time.Duration // how long it had not run
}

func (p pause) String() string {
	return fmt.Sprintf("%s paused for %v until %s", p.self, p.d.Round(time.Millisecond), p.end.Format("15:04:05.000"))
}

// pauseMsg is how the membership protocol logs its own pauses.
const pauseMsg = `msg="this member was paused"`

// parsePause reads a pause from one line of slog's text format, as the
// members write it; ok is false for any other line, or one whose time or
// duration does not parse.
func parsePause(line string) (p pause, ok bool) {
	if !strings.Contains(line, pauseMsg) {
		return pause{}, false
	}
	end, okT := logField(line, "time")
	self, okS := logField(line, "self")
	d, okD := logField(line, "for")
	if !okT || !okS || !okD {
		return pause{}, false
	}
	t, err1 := time.Parse(time.RFC3339Nano, end)
	dur, err2 := time.ParseDuration(d)
	if err1 != nil || err2 != nil || dur < 0 {
		return pause{}, false
	}
	return pause{self: self, end: t, d: dur}, true
}

// logField returns the unquoted value of key=value in a text log line.
func logField(line, key string) (string, bool) {
	i := 0
	for {
		j := strings.Index(line[i:], key+"=")
		if j < 0 {
			return "", false
		}
		i += j
		if i == 0 || line[i-1] == ' ' {
			break
		}
		i += len(key) + 1
	}
	v := line[i+len(key)+1:]
	if k := strings.IndexByte(v, ' '); k >= 0 {
		v = v[:k]
	}
	return v, v != "" && !strings.HasPrefix(v, `"`)
}

// pausesExplaining returns the pauses at least as long as timeout that
// overlap the interval from..to: those that can have made members suspect
// each other then.
func pausesExplaining(pauses []pause, timeout time.Duration, from, to time.Time) []pause {
	var out []pause
	for _, p := range pauses {
		if p.d >= timeout && !p.end.Before(from) && !p.end.Add(-p.d).After(to) {
			out = append(out, p)
		}
	}
	return out
}

// TestParsePause checks parsePause on the line the protocol writes and on
// lines it must refuse.
func TestParsePause(t *testing.T) {
	line := `time=2026-11-30T11:57:49.496Z level=DEBUG msg="this member was paused" self=127.0.0.1:46024#13fa92cd view=7@127.0.0.1:52179#299656a6 at=4.211587412s for=1.909999128s`
	p, ok := parsePause(line)
	want := pause{self: "127.0.0.1:46024#13fa92cd", end: time.Date(2026, 11, 30, 11, 57, 49, 496e6, time.UTC), d: 1909999128}
	if !ok || p.self != want.self || !p.end.Equal(want.end) || p.d != want.d {
		t.Fatalf("parsePause = %v, %v; want %v", p, ok, want)
	}
	for _, bad := range []string{
		strings.Replace(line, "for=1.909999128s", "for=x", 1),
		strings.Replace(line, "for=1.909999128s", "", 1),
		strings.Replace(line, "time=2026", "time=x", 1),
		strings.Replace(line, "was paused", "was not paused", 1),
	} {
		if p, ok := parsePause(bad); ok {
			t.Errorf("parsePause(%q) = %v, want none", bad, p)
		}
	}
	from, to := want.end.Add(-time.Second), want.end.Add(time.Second)
	if got := pausesExplaining([]pause{p}, time.Second, from, to); len(got) != 1 {
		t.Errorf("a 1.9 s pause within the interval: %v", got)
	}
	if got := pausesExplaining([]pause{p}, 2*time.Second, from, to); len(got) != 0 {
		t.Errorf("a 1.9 s pause counted for a 2 s timeout: %v", got)
	}
	if got := pausesExplaining([]pause{p}, time.Second, to.Add(time.Second), to.Add(2*time.Second)); len(got) != 0 {
		t.Errorf("a pause before the interval counted: %v", got)
	}
}
