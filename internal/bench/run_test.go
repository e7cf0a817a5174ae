package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// memberEnv, set in the environment, makes the test binary a member
// process: the parent of TestRun starts its members as this binary.
const memberEnv = "CONCLAVE_BENCH_TEST_MEMBER"

// testSuspect keeps members that a loaded machine starves of CPU for a
// second or two in the view: a view change fails a bench.
const testSuspect = 5 * time.Second

func TestMain(m *testing.M) {
	if os.Getenv(memberEnv) == "1" {
		if err := RunMember(context.Background(), os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("bench member: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRun runs a short bench with three member processes (this test binary)
// and the total order phase, and checks the JSON line: every key, the
// parameters echoed, and that every phase delivered. It makes no claim
// about speed, and runs at a light rate so that members built with the race
// detector on a busy machine are not starved into suspicion.
func TestRun(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	t.Setenv(memberEnv, "1")
	o := Options{
		Members: 3, Size: 256, Rate: 200, Duration: 500 * time.Millisecond, Senders: "all", Total: true, JSON: true,
		Member: []string{os.Args[0]}, Suspect: testSuspect,
	}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, o, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	line := strings.TrimSpace(stdout.String())
	if strings.Contains(line, "\n") {
		t.Fatalf("want one line of JSON, got:\n%s", line)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(line), &got); err != nil {
		t.Fatalf("%v: %s", err, line)
	}
	for _, k := range append([]string{
		"members", "size", "duration_s", "senders", "slow_receiver_us", "msgs_per_sec", "min_msgs_per_sec",
		"mb_per_sec", "p50_us", "p99_us", "rate", "raw_udp_p50_us", "raw_udp_p99_us", "raw_udp_msgs_per_sec", "ratio_vs_raw_udp", "max_rss_kb",
		"retransmissions", "drops", "view_changes", "per_member",
	}, totalKeys...) {
		if _, ok := got[k]; !ok {
			t.Errorf("key %q missing from %s", k, line)
		}
	}
	if got["members"] != 3.0 || got["size"] != 256.0 || got["duration_s"] != 0.5 || got["senders"] != "all" || got["protection"] != "private" {
		t.Errorf("parameters not echoed: %s", line)
	}
	if _, ok := got["ratio_vs_plain"]; ok {
		t.Errorf("ratio_vs_plain without --compare-plain: %s", line)
	}
	for _, k := range []string{"msgs_per_sec", "raw_udp_msgs_per_sec", "total_msgs_per_sec"} {
		if v, _ := got[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0: %s", k, got[k], line)
		}
	}
	members, _ := got["per_member"].([]any)
	if len(members) != 3 {
		t.Fatalf("per_member has %d entries, want 3: %s", len(members), line)
	}
	for r, m := range members {
		m := m.(map[string]any)
		for _, k := range []string{"rank", "role", "msgs_per_sec", "stack_udp", "raw_udp", "total_udp"} {
			if _, ok := m[k]; !ok {
				t.Errorf("member %d lacks %q: %s", r, k, line)
			}
		}
	}
}

// TestRunComparePlain runs a short bench of the secured stack with sender
// authentication beside the plain one, and checks that both phases
// delivered and the JSON line has the plain stack's numbers and the ratio.
func TestRunComparePlain(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes and runs for a few seconds")
	}
	t.Setenv(memberEnv, "1")
	o := Options{
		Members: 3, Size: 256, Rate: 200, Duration: 500 * time.Millisecond, Senders: "one", JSON: true,
		ComparePlain: true, SenderAuth: true, Member: []string{os.Args[0]}, Suspect: testSuspect,
	}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := Run(ctx, o, &stdout, &stderr); err != nil {
		t.Fatalf("Run: %v\nstderr:\n%s", err, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(stdout.Bytes(), &got); err != nil {
		t.Fatalf("%v: %s", err, stdout.String())
	}
	if got["protection"] != "private+sender-auth" {
		t.Errorf("protection %v, want private+sender-auth", got["protection"])
	}
	for _, k := range []string{"msgs_per_sec", "plain_msgs_per_sec", "ratio_vs_plain"} {
		if v, _ := got[k].(float64); v <= 0 {
			t.Errorf("%s = %v, want > 0: %s", k, got[k], stdout.String())
		}
	}
	// Joining drops strangers' control messages; the protection layers
	// must drop nothing of the members'.
	reasons, _ := got["drop_reasons"].(map[string]any)
	for k, v := range reasons {
		if strings.HasPrefix(k, "encrypt.") || strings.HasPrefix(k, "sign.") || strings.HasPrefix(k, "private.") {
			t.Errorf("%s = %v", k, v)
		}
	}
	for _, want := range []string{"plain stack (", "private+sender-auth stack ("} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks progress %q:\n%s", want, stderr.String())
		}
	}
}

// TestCheck checks that every bad option is refused with its flag named,
// and that good ones pass.
func TestCheck(t *testing.T) {
	good := Options{Members: 3, Size: 1024, Duration: time.Second, Senders: "one"}
	if err := good.Check(); err != nil {
		t.Fatalf("good options refused: %v", err)
	}
	for _, tc := range []struct {
		flag string
		bad  func(*Options)
	}{
		{"--members", func(o *Options) { o.Members = 1 }},
		{"--members", func(o *Options) { o.Members = MaxMembers + 1 }},
		{"--size", func(o *Options) { o.Size = 0 }},
		{"--size", func(o *Options) { o.Size = MaxSize + 1 }},
		{"--rate", func(o *Options) { o.Rate = -1 }},
		{"--rate", func(o *Options) { o.Rate = MaxRate + 1 }},
		{"--duration", func(o *Options) { o.Duration = time.Millisecond }},
		{"--senders", func(o *Options) { o.Senders = "some" }},
		{"--slow-receiver", func(o *Options) { o.SlowReceiver = -time.Second }},
		{"--suspect", func(o *Options) { o.Suspect = -time.Second }},
		{"--insecure", func(o *Options) { o.Insecure, o.ComparePlain = true, true }},
		{"--insecure", func(o *Options) { o.Insecure, o.SenderAuth = true, true }},
		{"--insecure", func(o *Options) { o.Insecure, o.IntegrityOnly = true, true }},
	} {
		o := good
		tc.bad(&o)
		if err := o.Check(); err == nil {
			t.Errorf("%+v: no error", o)
		} else if !strings.HasPrefix(err.Error(), tc.flag+" ") {
			t.Errorf("%+v: error %q does not name %s", o, err, tc.flag)
		}
	}
}
