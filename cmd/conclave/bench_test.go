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

	"github.com/conclave-go/conclave/internal/benchutil"
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
	cmd := exec.Command(bin, append(append([]string{"bench"}, args...), "--json")...)
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
	res := benchSummarize(o, raws, stacks, nil)
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
	if strings.Contains(out.String(), "total order") {
		t.Errorf("table shows total order without --total:\n%s", out.String())
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range benchTotalKeys {
		if bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON has %q without --total: %s", k, b)
		}
	}

	// The same with a total order phase at 3/4 of the stack's pace.
	o.total = true
	totals := []benchStackReport{
		{Delivered: 225, Sent: 225, Seconds: 1, Retransmissions: 4},
		{Delivered: 75, Seconds: 1, Drops: 2, DropReasons: map[string]uint64{"mnak.drop.log_full": 2}},
		{Delivered: 150, Seconds: 1, ViewChanges: 1},
	}
	res = benchSummarize(o, raws, stacks, totals)
	tr := res.benchTotalResult
	if tr == nil {
		t.Fatal("no total order result")
	}
	if tr.TotalMsgsPerSec != 150 || tr.TotalMinMsgsPerSec != 75 || tr.TotalMBPerSec != 0.15 || tr.RatioTotalVsStack != 0.75 {
		t.Errorf("total: mean %v min %v MB/s %v ratio %v, want 150 75 0.15 0.75",
			tr.TotalMsgsPerSec, tr.TotalMinMsgsPerSec, tr.TotalMBPerSec, tr.RatioTotalVsStack)
	}
	if tr.TotalRetransmissions != 4 || tr.TotalDrops != 2 || tr.TotalViewChanges != 1 || res.DropReasons["total:mnak.drop.log_full"] != 2 {
		t.Errorf("total: retransmissions %v drops %v view changes %v reasons %v, want 4 2 1 and the reason",
			tr.TotalRetransmissions, tr.TotalDrops, tr.TotalViewChanges, res.DropReasons)
	}
	if m := res.PerMember[0].benchMemberTotal; m == nil || m.TotalMsgsPerSec != 225 || m.TotalSentPerSec != 225 {
		t.Errorf("member 0's total order part: %+v, want 225 delivered and sent per second", m)
	}
	if res.MsgsPerSec != 200 {
		t.Errorf("the total order phase changed the stack's mean: %v", res.MsgsPerSec)
	}
	out.Reset()
	if err := res.print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"with total order", "vs stack", "0.75"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err = json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range benchTotalKeys {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q with --total: %s", k, b)
		}
	}
}

// TestBenchSummaryRate checks that with --rate the raw UDP latency of the
// members is merged and printed next to the stack's, and that the size of a
// raw message follows the stack's datagram size.
func TestBenchSummaryRate(t *testing.T) {
	o := benchOptions{members: 3, size: 64, duration: 2 * time.Second, senders: "one", rate: 1000}
	lat := func(us ...int64) *benchutil.Histogram {
		var h benchutil.Histogram
		for _, u := range us {
			h.Record(u * 1000)
		}
		return &h
	}
	raws := []benchRawReport{
		{Sent: 1000, Seconds: 1},
		{Received: 1000, Seconds: 1, Latency: lat(10, 10, 10)},
		{Received: 1000, Seconds: 1, Latency: lat(10, 10, 10, 1000)},
	}
	stacks := []benchStackReport{
		{Delivered: 1000, Seconds: 1},
		{Delivered: 1000, Seconds: 1, Latency: lat(40, 40)},
		{Delivered: 1000, Seconds: 1, Latency: lat(40, 40)},
	}
	res := benchSummarize(o, raws, stacks, nil)
	if res.Rate != 1000 || res.RawP50Us < 9 || res.RawP50Us > 11 || res.RawP99Us < 900 || res.P50Us < 36 || res.P50Us > 44 {
		t.Errorf("rate %v, raw p50 %v p99 %v, stack p50 %v: want 1000, about 10, about 1000, about 40", res.Rate, res.RawP50Us, res.RawP99Us, res.P50Us)
	}
	var out bytes.Buffer
	if err := res.print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "at 1,000 messages per second per sender: one-way latency p50 ") {
		t.Errorf("table lacks the latency at the rate:\n%s", out.String())
	}

	for _, tc := range []struct{ size, want int }{{1, 1}, {1400, 1}, {1401, 2}, {3000, 3}, {1 << 20, 749}} {
		s := benchSetup{Size: tc.size, Datagram: 1400}
		if got := s.datagramsPerMessage(); got != tc.want {
			t.Errorf("%d bytes: %d datagrams, want %d", tc.size, got, tc.want)
		}
	}
}

// TestBenchOrderHash checks that the order hash tells orders apart.
func TestBenchOrderHash(t *testing.T) {
	h := func(d ...[2]int) uint64 {
		x := uint64(benchOrderSeed)
		for _, p := range d {
			x = benchOrderHash(x, p[0], uint64(p[1]))
		}
		return x
	}
	a, b := h([2]int{0, 0}, [2]int{1, 0}), h([2]int{1, 0}, [2]int{0, 0})
	if a == b {
		t.Errorf("two orders of the same deliveries hash alike")
	}
	if a != h([2]int{0, 0}, [2]int{1, 0}) {
		t.Errorf("the hash is not deterministic")
	}
}
