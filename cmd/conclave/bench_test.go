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

// TestBenchJSON runs a short bench with three member processes and checks
// the JSON line: every key is there and the measurements are plausible. It
// makes no claim about speed; the numbers are for people.
func TestBenchJSON(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	bin := buildBenchBinary(t)
	cmd := exec.Command(bin, "bench", "--members", "3", "--size", "256", "--duration", "1s", "--json")
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
	for _, k := range []string{
		"members", "size", "duration_s", "msgs_per_sec", "mb_per_sec", "p50_us", "p99_us",
		"raw_udp_msgs_per_sec", "ratio_vs_raw_udp", "senders", "min_msgs_per_sec",
		"max_rss_kb", "retransmissions", "drops",
	} {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing from %s", k, lines[0])
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
		t.Errorf("parameters not echoed: %s", lines[0])
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
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks progress %q:\n%s", want, stderr.String())
		}
	}
}

// TestBenchRejectsBadFlags checks the flags before any process starts.
func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--members", "1"},
		{"--size", "0"},
		{"--size", "70000"},
		{"--duration", "1ms"},
		{"--senders", "some"},
		{"--slow-receiver", "-1s"},
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

// TestBenchSummary checks the arithmetic of the summary on made-up reports.
func TestBenchSummary(t *testing.T) {
	o := benchOptions{members: 3, size: 1000, duration: 2 * time.Second, senders: "one"}
	raws := []benchRawReport{
		{Sent: 400, Seconds: 1},
		{Received: 150, Seconds: 1},
		{Received: 250, Seconds: 1},
	}
	stacks := []benchStackReport{
		{Delivered: 300, Seconds: 1, MaxRSSKB: 10, Retransmissions: 2},
		{Delivered: 100, Seconds: 1, MaxRSSKB: 30, Drops: 1},
		{Delivered: 200, Seconds: 1, MaxRSSKB: 20, Retransmissions: 1},
	}
	res := benchSummarize(o, raws, stacks)
	if res.MsgsPerSec != 200 || res.MinMsgsPerSec != 100 || res.MBPerSec != 0.2 {
		t.Errorf("stack: mean %v min %v MB/s %v, want 200 100 0.2", res.MsgsPerSec, res.MinMsgsPerSec, res.MBPerSec)
	}
	// Member 0 sends and receives nothing in the raw phase: it is not a
	// receiving member and does not count.
	if res.RawUDPMsgsPerSec != 200 || res.RatioVsRawUDP != 1 {
		t.Errorf("raw: %v ratio %v, want 200 and 1", res.RawUDPMsgsPerSec, res.RatioVsRawUDP)
	}
	if res.MaxRSSKB != 30 || res.Retransmissions != 3 || res.Drops != 1 {
		t.Errorf("max RSS %v retransmissions %v drops %v, want 30 3 1", res.MaxRSSKB, res.Retransmissions, res.Drops)
	}
	var out bytes.Buffer
	if err := res.print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ratio") || !strings.Contains(out.String(), "max RSS") {
		t.Errorf("table lacks headings:\n%s", out.String())
	}
}
