package main

import (
	"bytes"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

// buildBenchBinary builds this command into a temporary directory, so that
// bench can start its members as real processes of the same program.
func buildBenchBinary(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	bin := filepath.Join(t.TempDir(), "conclave")
	out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBenchJSON runs bench with args and --json and returns the JSON line,
// decoded, and the standard error.
func runBenchJSON(t *testing.T, bin string, args ...string) (map[string]any, string) {
	t.Helper()
	// A member the machine starves of CPU for longer than the default
	// timeout would be suspected, and a view change fails a bench.
	cmd := exec.Command(bin, append(append([]string{"bench", "--suspect", "5s"}, args...), "--json")...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("bench: %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(3 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("bench did not finish\nstderr:\n%s", stderr.String())
	}

	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line of JSON, got %d:\n%s", len(lines), stdout.String())
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &got); err != nil {
		t.Fatalf("%v: %s", err, lines[0])
	}
	return got, stderr.String()
}

// benchTotalKeys are the keys that --total adds to the JSON.
var benchTotalKeys = []string{"total_msgs_per_sec", "total_p50_us", "total_p99_us", "ratio_total_vs_stack"}

// TestBenchJSON runs a short bench with three member processes and checks
// the JSON line: every key is there and the measurements are plausible. It
// makes no claim about speed; the numbers are for people.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	bin := buildBenchBinary(t)
	got, stderr := runBenchJSON(t, bin, "--members", "3", "--size", "256", "--duration", "1s")
	line, _ := json.Marshal(got)
	for _, k := range []string{
		"members", "size", "duration_s", "msgs_per_sec", "mb_per_sec", "p50_us", "p99_us",
		"raw_udp_msgs_per_sec", "ratio_vs_raw_udp", "senders", "min_msgs_per_sec",
		"max_rss_kb", "retransmissions", "drops",
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing from %s", k, line)
		}
	}
	for _, k := range benchTotalKeys {
		if _, ok := got[k]; ok {
			t.Errorf("key %q present without --total: %s", k, line)
		}
	}
	num := func(k string) float64 {
		v, ok := got[k].(float64)
		if !ok {
			t.Errorf("%s = %v, want a number", k, got[k])
		}
		return v
	}
	if num("members") != 3 || num("size") != 256 || num("duration_s") != 1 || got["senders"] != "one" {
		t.Errorf("parameters not echoed: %s", line)
	}
	if v := num("msgs_per_sec"); v <= 0 {
		t.Errorf("msgs_per_sec = %v, want > 0", v)
	}
	if v := num("raw_udp_msgs_per_sec"); v <= 0 {
		t.Errorf("raw_udp_msgs_per_sec = %v, want > 0", v)
	}
	if p50, p99 := num("p50_us"), num("p99_us"); p50 <= 0 || p99 < p50 {
		t.Errorf("p50_us = %v, p99_us = %v: want 0 < p50 <= p99", p50, p99)
	}
	for _, want := range []string{"starting 3 members", "raw UDP baseline", "stack"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks progress %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "total order") {
		t.Errorf("a total order phase ran without --total:\n%s", stderr)
	}
}

// TestBenchJSONRate runs a short bench at a fixed rate with messages of
// three datagrams each, and checks that the senders kept to the rate, that
// the raw UDP phase sent each message as three datagrams, and that both
// phases report latency.
func TestBenchJSONRate(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	bin := buildBenchBinary(t)
	const rate = 300
	got, _ := runBenchJSON(t, bin, "--members", "3", "--size", "3000", "--rate", "300", "--duration", "1s")
	line, _ := json.Marshal(got)
	num := func(k string) float64 {
		v, ok := got[k].(float64)
		if !ok {
			t.Errorf("%s = %v, want a number: %s", k, got[k], line)
		}
		return v
	}
	if num("rate") != rate || num("size") != 3000 {
		t.Errorf("parameters not echoed: %s", line)
	}
	// The pacer never runs ahead by more than a millisecond's worth.
	for _, k := range []string{"msgs_per_sec", "raw_udp_msgs_per_sec"} {
		if v := num(k); v <= 0 || v > rate*1.1 {
			t.Errorf("%s = %v, want more than 0 and at most the rate, %d: %s", k, v, rate, line)
		}
	}
	for _, q := range []string{"p50_us", "raw_udp_p50_us"} {
		p50, p99 := num(q), num(strings.Replace(q, "p50", "p99", 1))
		if p50 <= 0 || p99 < p50 {
			t.Errorf("%s = %v, p99 = %v: want 0 < p50 <= p99: %s", q, p50, p99, line)
		}
	}
	// Member 1 received every raw message as ceil(3000/1400) = 3 datagrams
	// (and more of them outside the counting window of 0.8s).
	members, _ := got["per_member"].([]any)
	if len(members) != 3 {
		t.Fatalf("per_member has %d entries: %s", len(members), line)
	}
	m1 := members[1].(map[string]any)
	datagrams := m1["raw_udp"].(map[string]any)["received"].(float64)
	if msgs := m1["raw_udp_msgs_per_sec"].(float64) * 0.8; datagrams < 3*msgs-1 {
		t.Errorf("member 1 received %v raw datagrams for %v messages, want 3 a message: %s", datagrams, msgs, line)
	}
}

// TestBenchJSONTotal runs a short bench with --total and every member
// sending (so that the order of deliveries is worth checking) and checks
// that the total order phase ran and reported.
func TestBenchJSONTotal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	bin := buildBenchBinary(t)
	got, stderr := runBenchJSON(t, bin, "--members", "3", "--size", "256", "--duration", "1s", "--senders", "all", "--total")
	line, _ := json.Marshal(got)
	for _, k := range append([]string{"msgs_per_sec", "p50_us", "raw_udp_msgs_per_sec"}, benchTotalKeys...) {
		if v, ok := got[k].(float64); !ok || v <= 0 {
			t.Errorf("%s = %v, want a number > 0: %s", k, got[k], line)
		}
	}
	if p50, p99 := got["total_p50_us"].(float64), got["total_p99_us"].(float64); p99 < p50 {
		t.Errorf("total_p50_us = %v > total_p99_us = %v", p50, p99)
	}
	members, _ := got["per_member"].([]any)
	if len(members) != 3 {
		t.Fatalf("per_member has %d entries, want 3: %s", len(members), line)
	}
	for r, m := range members {
		if v, _ := m.(map[string]any)["total_msgs_per_sec"].(float64); v <= 0 {
			t.Errorf("member %d: total_msgs_per_sec = %v, want > 0", r, v)
		}
	}
	for _, want := range []string{"stack (1s)", "total order: joining", "total order (1s)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks progress %q:\n%s", want, stderr)
		}
	}
}

// TestBenchRejectsBadFlags checks the flags before any process starts.
func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--members", "1"},
		{"--size", "0"},
		{"--size", "20000000"},
		{"--rate", "-1"},
		{"--duration", "1ms"},
		{"--senders", "some"},
		{"--slow-receiver", "-1s"},
		{"--suspect", "-1s"},
		{"--insecure", "--compare-plain"},
		{"--insecure", "--sender-auth"},
	} {
		root := newRootCmd()
		root.SetArgs(append([]string{"bench"}, args...))
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		if err := root.Execute(); err == nil {
			t.Errorf("bench %v: no error", args)
		} else if !strings.Contains(err.Error(), args[0]) {
			t.Errorf("bench %v: error %q does not name the flag", args, err)
		}
	}
}
