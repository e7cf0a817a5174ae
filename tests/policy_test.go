//go:build linux

package tests

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPolicyFlagsProcesses runs secured groups of three `conclave member`
// processes with each protection flag: they form a group, every member
// delivers every member's lines once, and no protection layer drops a
// member's datagram.
func TestPolicyFlagsProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("runs conclave processes; skipped with -short")
	}
	bin := buildConclave(t)
	for _, flags := range [][]string{{"--sender-auth"}, {"--integrity-only"}, {"--integrity-only", "--sender-auth"}} {
		t.Run(strings.Join(flags, " "), func(t *testing.T) {
			var procs []*memberProc
			saveLogsOnFailure(t, &procs)
			procs = startMemberProcs(t, bin, 3, flags...)
			awaitOneView(t, procs)
			const lines = 30
			for i, p := range procs {
				for k := range lines {
					fmt.Fprintf(p.stdin, "line %d-%d\n", i, k)
				}
			}
			awaitLines(t, procs, "line", lines)
			for _, p := range procs {
				p.mu.Lock()
				p.counters = nil
				p.mu.Unlock()
				if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
					t.Fatal(err)
				}
				if err := p.waitFor(time.Now().Add(10*time.Second), "counters", func() (bool, error) { return p.counters != nil, nil }); err != nil {
					t.Fatal(err)
				}
				p.mu.Lock()
				want := "private"
				if strings.Contains(t.Name(), "integrity-only") {
					want = "integrity-only"
				}
				if strings.Contains(t.Name(), "sender-auth") {
					want += "+sender-auth"
					if p.counters["sign.batches_signed"] == 0 {
						t.Errorf("member %d signed no batch: %v", p.index, p.counters)
					}
				}
				if p.policy != want {
					t.Errorf("member %d runs %q, want %q", p.index, p.policy, want)
				}
				for k, v := range p.counters {
					if strings.HasPrefix(k, "encrypt.drop.") || strings.HasPrefix(k, "sign.drop.") {
						t.Errorf("member %d: %s = %d", p.index, k, v)
					}
				}
				seen := map[string]bool{}
				for _, d := range p.delivs {
					if seen[d.from+" "+d.data] {
						t.Errorf("member %d delivered %q from %s twice", p.index, d.data, d.from)
					}
					seen[d.from+" "+d.data] = true
				}
				if len(p.bad) > 0 {
					t.Errorf("member %d printed malformed output: %v", p.index, p.bad)
				}
				p.mu.Unlock()
			}
		})
	}
}
