//go:build linux

package tests

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestOutsiderProcessIsRefused runs a secured group of three `conclave
// member` processes over UDP on loopback, and an outsider process whose
// Noise key is not on the group's allow list (its own list holds the
// group's keys and its own, so that only the group's check can keep it
// out). The outsider contacts every member as a seed for several seconds:
// no member's view ever holds it, it never enters a view with anyone, and
// it delivers none of the group's multicasts.
func TestOutsiderProcessIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four conclave processes; skipped with -short")
	}
	bin := buildConclave(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3)
	full := awaitOneView(t, procs)

	// The outsider's key and its own allow list: the group's keys (the
	// allow file the members share) and its own.
	var allowFile string
	for _, a := range procs[0].cmd.Args {
		if strings.HasSuffix(a, "allowed") {
			allowFile = a
		}
	}
	dir := t.TempDir()
	key, pub := newKeyFile(t, dir, "outsider.key")
	var seeds []string
	for _, p := range procs {
		seeds = append(seeds, p.addr)
	}
	addrs, err := freeLoopbackAddrs(1)
	if err != nil {
		t.Fatal(err)
	}
	outsider, err := startMemberProc(t, bin, len(procs), addrs[0], seeds,
		"--noise-key", key, "--allow-file", allowFile, "--allow", pub.String(), "--group", groupOf(procs[0]))
	if err != nil {
		t.Fatal(err)
	}
	procs = append(procs, outsider)
	if err := outsider.waitFor(time.Now().Add(10*time.Second), "ready", func() (bool, error) { return outsider.self != "", nil }); err != nil {
		t.Fatal(err)
	}

	// The group multicasts while the outsider tries, until the members
	// have delivered it all and refused the outsider's key, and the
	// outsider has given up on being absorbed: told it was refused, or
	// (a refused identity stays refused) not taken in in time. A process
	// alone authenticates the coordinator before it waits for it, so that
	// after the refusal it is not kept waiting again.
	for i, p := range procs[:3] {
		fmt.Fprintf(p.stdin, "group line %d\n", i)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range procs[:3] {
		err := p.waitFor(deadline, "the group's lines", func() (bool, error) { return len(p.delivs) >= 3, nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	count := func(ps []*memberProc, ok func(string) bool) int {
		n := 0
		for _, p := range ps {
			p.mu.Lock()
			for _, l := range p.logs {
				if ok(l) {
					n++
				}
			}
			p.mu.Unlock()
		}
		return n
	}
	refusals := func() int {
		return count(procs[:3], func(l string) bool { return strings.Contains(l, "peer refused") && strings.Contains(l, pub.Name()) })
	}
	givenUp := func() int {
		return count(procs[3:], func(l string) bool {
			return strings.Contains(l, "not absorbed in time") || strings.Contains(l, "refused by the view to be absorbed by")
		})
	}
	for refusals() < 1 || givenUp() < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("in 30s, the members refused the outsider's key %d times, and the outsider gave up %d times; want 1 and 1", refusals(), givenUp())
		}
		select {
		case <-outsider.notify:
		case <-procs[0].notify:
		case <-time.After(100 * time.Millisecond): // the others' logs have no channel to wait on together
		}
	}

	for _, p := range procs[:3] {
		p.mu.Lock()
		for _, v := range p.views {
			if v.has(outsider.self) || slices.Contains(v.ids, pub.String()) {
				t.Errorf("member %d installed %v with the outsider", p.index, v)
			}
		}
		if v := p.currentView(); v.id != full.id {
			t.Logf("member %d moved from %v to %v", p.index, full, v)
		}
		p.mu.Unlock()
	}
	outsider.mu.Lock()
	for _, v := range outsider.views {
		if len(v.members) != 1 {
			t.Errorf("the outsider installed %v", v)
		}
	}
	for _, d := range outsider.delivs {
		if d.from != outsider.self {
			t.Errorf("the outsider delivered %q from %s", d.data, d.from)
		}
	}
	if len(outsider.bad) > 0 {
		t.Errorf("the outsider printed malformed output: %v", outsider.bad)
	}
	outsider.mu.Unlock()
	// Its own warning says a group refused it, with the coordinator's
	// reason when a coordinator refused it as a joiner (it told it why),
	// or that a group answered and did not take it in, not that nobody
	// answered.
	err = outsider.waitFor(time.Now().Add(20*time.Second), "warning", func() (bool, error) {
		return slices.ContainsFunc(outsider.logs, func(l string) bool {
			return strings.HasPrefix(l, "conclave: warning: a group answered but did not take this member in") ||
				strings.HasPrefix(l, "conclave: warning: a group refused this member") && strings.Contains(l, "is not on the allow list")
		}), nil
	})
	if err != nil {
		t.Error(err)
	}
}

// groupOf returns the --group argument a member process was started with.
func groupOf(p *memberProc) string {
	i := slices.Index(p.cmd.Args, "--group")
	return p.cmd.Args[i+1]
}
