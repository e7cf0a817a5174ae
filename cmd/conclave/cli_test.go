package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/netip"
	"regexp"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// runCLI runs the command line args in this process and returns its exit
// status, standard output and standard error.
func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := run(ctx, args, strings.NewReader(""), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

func TestVersionFlag(t *testing.T) {
	code, out, errOut := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "conclave ") || !strings.Contains(out, " go1.") {
		t.Fatalf("--version: status %d, stdout %q, stderr %q; want conclave VERSION goX", code, out, errOut)
	}
}

func TestBuildVersion(t *testing.T) {
	for _, tc := range []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 go1.26.1"},
		{debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "7dbc806ab12c34de56f7890123456789abcdef01"},
			{Key: "vcs.time", Value: "2026-11-30T07:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		}}, "devel 7dbc806ab12c+dirty (2026-11-30T07:00:00Z) go1.26.1"},
		{debug.BuildInfo{GoVersion: "go1.26.1", Main: debug.Module{Version: "(devel)"}}, "devel (no commit recorded: built with go run or -buildvcs=false) go1.26.1"},
	} {
		if got := buildVersion(&tc.bi); got != tc.want {
			t.Errorf("buildVersion: %q, want %q", got, tc.want)
		}
	}
}

func TestErrorIsOneLineWithHint(t *testing.T) {
	busy, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.LocalAddr().String()
	code, _, errOut := runCLI(t, "member", "--listen", addr, "--insecure")
	want := "conclave: error: listen " + addr + ": address already in use\n" +
		"conclave: hint: another process, perhaps another member, uses port " + addr[strings.LastIndex(addr, ":")+1:] +
		"; choose another with --listen, or port 0 for any free one\n"
	if code != 1 || errOut != want {
		t.Fatalf("member on a port in use: status %d, stderr:\n%s\nwant:\n%s", code, errOut, want)
	}
}

func TestMemberRefusesBadAddresses(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:7390", "--seed", "127.0.0.1:7390"}, "conclave: error: --seed 127.0.0.1:7390 is this member's own --listen address\nconclave: hint: "},
		{[]string{"--listen", "localhost:7390", "--seed", "127.0.0.1:7390"}, "is this member's own --listen address"},
		{[]string{"--listen", "nosuch.invalid:7000"}, `conclave: error: --listen nosuch.invalid:7000: cannot resolve "nosuch.invalid": `},
		{[]string{"--listen", "127.0.0.1:0", "--seed", "nosuch.invalid:7000"}, `conclave: error: --seed nosuch.invalid:7000: cannot resolve "nosuch.invalid": `},
		{[]string{"--listen", "127.0.0.1"}, "conclave: error: --listen \"127.0.0.1\": want HOST:PORT\nconclave: hint: "},
		{[]string{"--listen", "127.0.0.1:70000"}, `port "70000": want a number from 0 to 65535`},
		{[]string{"--listen", "127.0.0.1:0", "--seed", "127.0.0.1:0"}, "--seed 127.0.0.1:0: port 0 names no member"},
		{[]string{"--listen", "0.0.0.0:7390"}, "must name one IP address"},
	} {
		code, _, errOut := runCLI(t, append([]string{"member", "--insecure"}, tc.args...)...)
		if code != 1 || !strings.HasPrefix(errOut, "conclave: error: ") || !strings.Contains(errOut, tc.want) {
			t.Errorf("member %v: status %d, stderr %q; want %q", tc.args, code, errOut, tc.want)
		}
		if strings.Contains(errOut, "conclave: error: conclave:") || strings.Contains(errOut, "ParseAddr") {
			t.Errorf("member %v: stderr %q speaks the parser's language or repeats the prefix", tc.args, errOut)
		}
	}
}

func TestResolveAddr(t *testing.T) {
	ctx := context.Background()
	for in, want := range map[string]string{
		"localhost:7000":   "127.0.0.1:7000",
		"127.0.0.1:7000":   "127.0.0.1:7000",
		"[::1]:7000":       "[::1]:7000",
		"localhost:0":      "127.0.0.1:0",
		"127.0.0.1:065535": "127.0.0.1:65535",
	} {
		got, err := resolveAddr(ctx, "--listen", in, true)
		if err != nil || got.String() != want {
			t.Errorf("resolveAddr(%q) = %v, %v; want %s", in, got, err, want)
		}
	}
}

// lines collects what a command writes and passes each whole line on.
type lines struct {
	mu   sync.Mutex
	buf  []byte
	all  strings.Builder
	each chan string
}

func newLines() *lines { return &lines{each: make(chan string, 1024)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all.Write(p)
	l.buf = append(l.buf, p...)
	for {
		i := bytes.IndexByte(l.buf, '\n')
		if i < 0 {
			return len(p), nil
		}
		select {
		case l.each <- string(l.buf[:i]):
		default:
		}
		l.buf = l.buf[i+1:]
	}
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.all.String()
}

// await returns the first line for which ok holds, or fails the test after
// a generous time.
func (l *lines) await(t *testing.T, what string, ok func(string) bool) string {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case s := <-l.each:
			if ok(s) {
				return s
			}
		case <-timeout:
			t.Fatalf("no %s within a minute; so far:\n%s", what, l.String())
		}
	}
}

// startMember runs a member in this process until the test ends.
func startMember(t *testing.T, f memberFlags) (stdout, stderr *lines) {
	t.Helper()
	stdout, stderr = newLines(), newLines()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runMember(ctx, strings.NewReader(""), stdout, stderr, f) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("member: %v", err)
			}
		case <-time.After(time.Minute):
			t.Errorf("member did not stop")
		}
	})
	return stdout, stderr
}

func memberDefaults(listen string, seeds ...string) memberFlags {
	return memberFlags{
		listen: listen, seeds: seeds, group: "conclave", suspect: membership.DefaultTiming.Suspect,
		seedWait: conclave.DefaultSeedWait, logLevel: "warn", credentialFlags: credentialFlags{insecure: true},
	}
}

func TestMemberWarnsWhenNoSeedAnswers(t *testing.T) {
	// A socket that never reads: no answer, and no ICMP error either.
	silent, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	f := memberDefaults("127.0.0.1:0", silent.LocalAddr().String())
	f.group = "prices"
	f.seedWait = 20 * time.Millisecond
	_, stderr := startMember(t, f)
	warning := stderr.await(t, "warning", func(s string) bool { return strings.HasPrefix(s, "conclave: warning: ") })
	if !strings.HasPrefix(warning, "conclave: warning: no seed has answered (after 20ms; seeds "+silent.LocalAddr().String()+"; group prices)") {
		t.Errorf("warning %q", warning)
	}
	hint := stderr.await(t, "hint", func(string) bool { return true })
	if !strings.HasPrefix(hint, "conclave: hint: ") || !strings.Contains(hint, `"prices"`) {
		t.Errorf("after the warning %q, want a hint naming the group", hint)
	}
}

func TestMembersByHostName(t *testing.T) {
	f := memberDefaults("localhost:0")
	f.json = true
	aOut, _ := startMember(t, f)
	ready := aOut.await(t, "ready line", func(string) bool { return true })
	var hello struct{ Type, Self string }
	if err := json.Unmarshal([]byte(ready), &hello); err != nil || hello.Type != "ready" {
		t.Fatalf("first line %q: %v", ready, err)
	}
	addr, _, _ := strings.Cut(hello.Self, "#")
	port := addr[strings.LastIndex(addr, ":")+1:]
	if !strings.HasPrefix(addr, "127.0.0.1:") {
		t.Fatalf("--listen localhost:0 listens on %s, want 127.0.0.1", addr)
	}

	bOut, _ := startMember(t, memberDefaults("localhost:0", "localhost:"+port))
	view := bOut.await(t, "view of two", func(s string) bool { return strings.HasPrefix(s, "view ") && strings.Count(s, "#") >= 2 })
	if strings.Contains(view, "left:") || strings.Contains(view, "failed:") || strings.Contains(view, ": ;") || strings.Contains(view, "()") {
		t.Errorf("view line %q shows empty or absent changes", view)
	}
}

func TestViewLine(t *testing.T) {
	a := conclave.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	b := conclave.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7001"), Inc: 2}
	c := conclave.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7002"), Inc: 3}
	v := conclave.View{ID: conclave.ViewID{LTime: 3, Coord: a}, Members: []conclave.Endpoint{a, b}}
	id := v.ID.String()
	for _, tc := range []struct {
		ev   conclave.Event
		want string
	}{
		{conclave.Event{View: v}, "view " + id + ": " + a.String() + " " + b.String()},
		{conclave.Event{View: v, Joined: []conclave.Endpoint{b}}, "view " + id + ": " + a.String() + " " + b.String() + " (joined: " + b.String() + ")"},
		{conclave.Event{View: v, Left: []conclave.Endpoint{c}, Failed: []conclave.Endpoint{c}}, "view " + id + ": " + a.String() + " " + b.String() + " (left: " + c.String() + "; failed: " + c.String() + ")"},
	} {
		if got := viewLine(tc.ev); got != tc.want {
			t.Errorf("viewLine:\n got %q\nwant %q", got, tc.want)
		}
	}
}

func TestDemoCounts(t *testing.T) {
	if got, want := demoCounts(map[string]int{"eve": 17, "ann": 2000, "bob": 1999}), "2000 from ann, 1999 from bob, 17 from eve"; got != want {
		t.Errorf("demoCounts: %q, want %q", got, want)
	}
	if got := demoCounts(nil); got != "none" {
		t.Errorf("demoCounts(nil): %q", got)
	}
}

func TestHelpExplains(t *testing.T) {
	code, out, _ := runCLI(t, "member", "--help")
	if code != 0 || !strings.Contains(out, "keyadmin keygen noise -o a.key") ||
		!strings.Contains(out, "conclave member --listen 127.0.0.1:7000 --noise-key a.key --allow-file allowed\n") ||
		!strings.Contains(out, "conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --noise-key b.key --allow-file allowed") ||
		!strings.Contains(out, "--insecure") {
		t.Errorf("member --help shows no example of a secured group of two members:\n%s", out)
	}
	for _, cmd := range []string{"demo", "bench", "sim"} {
		code, out, _ := runCLI(t, cmd, "--help")
		if code != 0 || len(out) < 500 || !strings.Contains(out, "Usage:") {
			t.Errorf("%s --help: status %d, %d bytes:\n%s", cmd, code, len(out), out)
		}
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo takes seconds")
	}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := runDemo(ctx, &out, 50); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`delivered the same messages in the view eve was in: \d+ from ann, \d+ from bob, \d+ from cat, \d+ from dan, \d+ from eve\n`),
		// Each view line names its key epoch and why it changed.
		regexp.MustCompile(`ann installs view \d+ \[[a-z ]+\] [^\n]*, key epoch \d+ \((join|merge)\)\n`),
		regexp.MustCompile(`installs view \d+ \[[a-z ]+\] -eve \(failed or cut off\), key epoch \d+ \(failure\)\n`),
		regexp.MustCompile(`the view without eve has key epoch (\d+), agreed without eve: eve, which held epoch \d+, cannot derive it\n`),
		// The stranger is refused for its key, by the admission check.
		regexp.MustCompile(`[a-z]+ refuses mallory: auth: noise:[A-Za-z0-9+/=]{44} \(fingerprint [0-9a-f:]{19}\) is not on the allow list\n`),
		regexp.MustCompile(`mallory saw only views of itself, with keys of its own, and delivered none of the group's messages\n`),
		regexp.MustCompile(`dan installs view \d+ \[[a-z ]+\] -dan \(left\)|installs view \d+ \[[a-z ]+\] -dan \(left\), key epoch \d+ \(leave\)\n`),
		// Datagrams are sealed: the text is not on the wire, a member
		// that kept its keys opens its own views' and none after its
		// eviction.
		regexp.MustCompile(`on the wire, ann's datagrams \(\d+\) hold no trace of "for ann, bob and cat": [0-9a-f]+… \(\d+ bytes\)\n`),
		regexp.MustCompile(`cat, a member, opens [1-9]\d* of them with its keys\n`),
		regexp.MustCompile(`installs view \d+ \[(ann bob|bob ann)\] -cat \(failed or cut off\), key epoch \d+ \(failure\)\n`),
		regexp.MustCompile(`cat tries every key of the \d+ epochs it held, as every sender, on ann's [1-9]\d* datagrams in the view without it: it opens none\n`),
	} {
		if !want.MatchString(s) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	if strings.Contains(s, "map[") || strings.Contains(s, "mallory installs view 2 [ann") || t.Failed() {
		t.Errorf("demo output:\n%s", s)
	}
}

// TestMemberWarnsOnAnotherGroup: a seed that runs a member of another group
// ignores this one, which warns as if nobody ran there.
func TestMemberWarnsOnAnotherGroup(t *testing.T) {
	f := memberDefaults("127.0.0.1:0")
	f.json = true
	aOut, _ := startMember(t, f)
	var hello struct{ Self string }
	if err := json.Unmarshal([]byte(aOut.await(t, "ready line", func(string) bool { return true })), &hello); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := strings.Cut(hello.Self, "#")

	g := memberDefaults("127.0.0.1:0", addr)
	g.group = "other"
	g.seedWait = 100 * time.Millisecond
	_, stderr := startMember(t, g)
	warning := stderr.await(t, "warning", func(s string) bool { return strings.HasPrefix(s, "conclave: warning: ") })
	if !strings.Contains(warning, "no seed has answered") || !strings.Contains(warning, "group other") {
		t.Errorf("warning %q", warning)
	}
}

// TestMemberPolicyFlagsNeedASecuredGroup: the protection flags of a
// secured group are refused with --insecure rather than ignored.
func TestMemberPolicyFlagsNeedASecuredGroup(t *testing.T) {
	for _, flag := range []string{"--integrity-only", "--sender-auth"} {
		code, _, errOut := runCLI(t, "member", "--insecure", "--listen", "127.0.0.1:0", flag)
		if code != 1 || !strings.Contains(errOut, "conclave: error: --integrity-only and --sender-auth apply to a secured group") {
			t.Errorf("member --insecure %s: status %d, stderr %q", flag, code, errOut)
		}
	}
}
