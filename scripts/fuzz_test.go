// Package scripts holds the test of the repository's shell scripts; the
// scripts themselves are what `make` runs.
package scripts

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fakeGo stands in for the go command: its n-th call plays the n-th outcome
// of $FAKE_PLAN (comma-separated) in the package directory it is given.
const fakeGo = `#!/usr/bin/env bash
set -eu
n=$(( $(cat "$FAKE_CALLS" 2>/dev/null || echo 0) + 1 ))
echo $n >"$FAKE_CALLS"
IFS=, read -r -a plan <<<"$FAKE_PLAN"
outcome=${plan[$((n-1))]:-pass}
pkg=${!#}
case $outcome in
pass)
	echo "fuzz: elapsed: 10s, execs: 1000 (100/sec), new interesting: 0 (total: 4)"
	echo "PASS"; echo "ok  	example/$pkg	10.1s"; exit 0 ;;
hiccup)
	echo "fuzz: elapsed: 10s, execs: 1000 (0/sec), new interesting: 0 (total: 4)"
	echo "--- FAIL: FuzzA (10.20s)"; echo "    context deadline exceeded"
	echo "FAIL"; echo "exit status 1"; echo "FAIL	example/$pkg	10.2s"; exit 1 ;;
crash|crash-silent)
	mkdir -p "$pkg/testdata/fuzz/FuzzA"
	echo 'go test fuzz v1' >"$pkg/testdata/fuzz/FuzzA/582528ddfad69eb5"
	echo "--- FAIL: FuzzA (0.52s)"
	echo "    --- FAIL: FuzzA (0.00s)"
	echo "        testing.go:1: panic: index out of range"
	if [[ $outcome == crash ]]; then
		echo "    Failing input written to testdata/fuzz/FuzzA/582528ddfad69eb5"
	else
		echo "    context deadline exceeded"
	fi
	echo "FAIL"; exit 1 ;;
seed)
	echo "--- FAIL: FuzzA (0.00s)"; echo "    --- FAIL: FuzzA/seed#0 (0.00s)"
	echo "        a_test.go:9: round trip changed the input"
	echo "    context deadline exceeded"
	echo "FAIL"; exit 1 ;;
build)
	echo "# example/$pkg"; echo "$pkg/a_test.go:3:2: undefined: x"
	echo "FAIL	example/$pkg [build failed]"; exit 1 ;;
esac
`

func TestFuzzScript(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	script, err := filepath.Abs("fuzz.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		plan  string
		fails bool
		want  []string // in the output, in this order
		calls int
	}{
		{plan: "pass", calls: 1},
		{plan: "hiccup,pass", calls: 2, want: []string{"context deadline exceeded' with no failing input", "running it again"}},
		{plan: "hiccup,hiccup", calls: 2, want: []string{"running it again", "warning: not fuzzed"}},
		{plan: "crash", fails: true, calls: 1, want: []string{"FAILED: the failing input is in pkg/a/testdata/fuzz/FuzzA/582528ddfad69eb5", "go test -run '^FuzzA$' ./pkg/a"}},
		{plan: "crash-silent", fails: true, calls: 1, want: []string{"FAILED: the failing input is in pkg/a/testdata/fuzz/FuzzA/582528ddfad69eb5"}},
		{plan: "hiccup,crash", fails: true, calls: 2, want: []string{"running it again", "FAILED: the failing input is in pkg/a/testdata/fuzz/FuzzA/582528ddfad69eb5"}},
		{plan: "seed", fails: true, calls: 1, want: []string{"FuzzA/seed#0", "FAILED (no new input was written"}},
		{plan: "build", fails: true, calls: 1, want: []string{"[build failed]", "FAILED"}},
	} {
		t.Run(tc.plan, func(t *testing.T) {
			dir := t.TempDir()
			pkg := filepath.Join(dir, "pkg", "a")
			if err := os.MkdirAll(pkg, 0o755); err != nil {
				t.Fatal(err)
			}
			src := "package a\n\nimport \"testing\"\n\nfunc FuzzA(f *testing.F) {\n\tf.Fuzz(func(t *testing.T, b []byte) {})\n}\n"
			if err := os.WriteFile(filepath.Join(pkg, "a_test.go"), []byte(src), 0o644); err != nil {
				t.Fatal(err)
			}
			goCmd := filepath.Join(t.TempDir(), "go")
			if err := os.WriteFile(goCmd, []byte(fakeGo), 0o755); err != nil {
				t.Fatal(err)
			}
			calls := filepath.Join(t.TempDir(), "calls")
			cmd := exec.Command("bash", script)
			cmd.Env = append(os.Environ(), "GO="+goCmd, "FUZZROOT="+dir, "FAKE_PLAN="+tc.plan, "FAKE_CALLS="+calls, "FUZZTIME=10s")
			out, err := cmd.CombinedOutput()
			var ee *exec.ExitError
			switch {
			case err == nil && tc.fails:
				t.Errorf("the script passed, want a failure; output:\n%s", out)
			case err != nil && !errors.As(err, &ee):
				t.Fatal(err)
			case err != nil && !tc.fails:
				t.Errorf("the script failed (%v), want a pass; output:\n%s", err, out)
			}
			rest := string(out)
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Errorf("output lacks %q (in order); output:\n%s", w, out)
					break
				}
				rest = rest[i+len(w):]
			}
			if got, _ := os.ReadFile(calls); strings.TrimSpace(string(got)) != strconv.Itoa(tc.calls) {
				t.Errorf("go test ran %s times, want %d", strings.TrimSpace(string(got)), tc.calls)
			}
			// Every path the script names as holding an input exists.
			for _, m := range regexp.MustCompile(`input is in (\S+)`).FindAllStringSubmatch(string(out), -1) {
				if _, err := os.Stat(filepath.Join(dir, m[1])); err != nil {
					t.Errorf("the script names %s, which does not exist", m[1])
				}
			}
		})
	}
}
