//go:build linux

// Linux only: the members are started with a parent-death signal, so that
// none outlives a test binary that dies without running its cleanups (a
// panic, or go test's -timeout).

package tests

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave/auth/noise"
)

// buildConclave builds the conclave command into a temporary directory and
// returns the binary's path. It skips the test when there is no go command.
func buildConclave(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command in PATH to build conclave with (%v)", err)
	}
	bin := filepath.Join(t.TempDir(), "conclave")
	out, err := exec.Command(goBin, "build", "-o", bin, "github.com/conclave-go/conclave/cmd/conclave").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freeLoopbackAddrs returns n distinct loopback UDP addresses whose ports
// were free a moment ago. Another program may take one before a member
// binds it; startMemberProcs retries then.
func freeLoopbackAddrs(n int) ([]string, error) {
	addrs := make([]string, 0, n)
	for range n {
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return nil, err
		}
		// Closed at return, not now: the n ports must differ.
		defer c.Close()
		addrs = append(addrs, c.LocalAddr().String())
	}
	return addrs, nil
}

// memberEvent is one line of `conclave member --json`.
type memberEvent struct {
	Type     string `json:"type"`
	Self     string `json:"self"`
	Identity string `json:"identity"`
	// Protection and SenderAuth: a secured member's policy, on ready.
	Protection string   `json:"protection"`
	SenderAuth bool     `json:"sender_auth"`
	View       string   `json:"view"`
	Members    []string `json:"members"`
	Joined     []string `json:"joined"`
	Left       []string `json:"left"`
	Failed     []string `json:"failed"`
	Epoch      *uint64  `json:"epoch"`
	Identities []string `json:"identities"`
	Reason     string   `json:"reason"`
	From       string   `json:"from"`
	Data       string   `json:"data"`
	// Counters: the member's counters that are not zero, on SIGUSR1.
	Counters map[string]uint64 `json:"counters"`
}

// procView is a view a member process installed.
type procView struct {
	id      string
	epoch   *uint64  // nil in an insecure group
	ids     []string // the members' identities, by rank
	members []string
	joined  []string
	failed  []string
	first   int            // index in delivs of the first delivery in the view
	count   map[string]int // deliveries in the view, by sender
}

func (v procView) has(m string) bool { return slices.Contains(v.members, m) }

func (v procView) String() string {
	s := fmt.Sprintf("view %s [%s]", v.id, strings.Join(v.members, " "))
	if v.epoch != nil {
		s += fmt.Sprintf(" epoch %d", *v.epoch)
	}
	return s
}

// groupKeys makes a Noise key file for each of n members in a new
// directory, and an allow file listing all their public keys. It returns
// each member's arguments: its --noise-key and the --allow-file.
func groupKeys(t *testing.T, n int) [][]string {
	t.Helper()
	dir := t.TempDir()
	var allowed []byte
	var args [][]string
	for i := range n {
		name, pub := newKeyFile(t, dir, fmt.Sprintf("member%d.key", i))
		allowed = fmt.Appendf(allowed, "%s\n", pub)
		args = append(args, []string{"--noise-key", name})
	}
	allow := filepath.Join(dir, "allowed")
	if err := os.WriteFile(allow, allowed, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range args {
		args[i] = append(args[i], "--allow-file", allow)
	}
	return args
}

// newKeyFile writes a new Noise private key file, mode 0600, into dir.
func newKeyFile(t *testing.T, dir, name string) (string, noise.PublicKey) {
	t.Helper()
	k, err := noise.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	defer k.Zero()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, noise.MarshalPrivateKeyFile(k), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, k.Public()
}

// delivery is a message a member process delivered.
type delivery struct {
	from, data string
	view       int // index in views; -1 before the first view
}

// memberProc is a running `conclave member --json` process and what it has
// printed so far.
type memberProc struct {
	index int
	addr  string
	cmd   *exec.Cmd
	stdin io.WriteCloser

	notify  chan struct{} // capacity 1: the output or the log grew
	exited  chan struct{} // closed once the process has exited and its output is read
	waitErr error         // why it exited; set before exited is closed

	mu     sync.Mutex // guards the fields below
	self   string
	id     string   // the identity of its key, in a secured group
	keys   []string // the reasons of its key changes, in order
	raw    []string // every line of standard output
	logs   []string // the protocol's log (standard error), at most maxLogLines
	pauses []pause  // every pause the protocol's log reported, all of them
	views  []procView
	delivs []delivery
	sends  []delivery // point-to-point messages delivered, in order
	left   bool
	bad    []string // lines that broke the output format
	// counters are the latest counters the member printed (SIGUSR1).
	counters map[string]uint64
	// policy is the protection its ready line named, and +sender-auth.
	policy string
}

// maxLogLines bounds the protocol log kept per process: the latest lines.
const maxLogLines = 2000

// failureLogLines is how many of each process's latest log lines a failed
// test prints.
const failureLogLines = 40

// startMemberProc starts `conclave member` listening on addr with the given
// seeds and arguments. A cleanup kills it if it is still running.
func startMemberProc(t *testing.T, bin string, index int, addr string, seeds []string, args ...string) (*memberProc, error) {
	args = append([]string{"member", "--listen", addr, "--json", "--log-level", "debug"}, args...)
	for _, s := range seeds {
		args = append(args, "--seed", s)
	}
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &memberProc{
		index:  index,
		addr:   addr,
		cmd:    cmd,
		stdin:  stdin,
		notify: make(chan struct{}, 1),
		exited: make(chan struct{}),
	}
	var readers sync.WaitGroup
	readers.Add(2)
	go func() {
		defer readers.Done()
		p.readEvents(stdout)
	}()
	go func() {
		defer readers.Done()
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			p.mu.Lock()
			if len(p.logs) == maxLogLines {
				p.logs = slices.Delete(p.logs, 0, maxLogLines/2)
			}
			p.logs = append(p.logs, sc.Text())
			if ps, ok := parsePause(sc.Text()); ok {
				p.pauses = append(p.pauses, ps)
			}
			p.mu.Unlock()
			select {
			case p.notify <- struct{}{}:
			default:
			}
		}
	}()
	go func() {
		readers.Wait() // Wait closes the pipes: read them to the end first
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(p.kill)
	return p, nil
}

// readEvents parses the process's standard output until it ends.
func (p *memberProc) readEvents(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev memberEvent
		var err error
		if from, data, ok := parseDeliver(sc.Bytes()); ok {
			ev = memberEvent{Type: "deliver", From: from, Data: data}
		} else {
			dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
			dec.DisallowUnknownFields()
			err = dec.Decode(&ev)
		}
		p.mu.Lock()
		p.raw = append(p.raw, sc.Text())
		if err != nil {
			p.badLine(err.Error())
		} else {
			p.apply(ev)
		}
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
	}
	if err := sc.Err(); err != nil {
		p.mu.Lock()
		p.bad = append(p.bad, fmt.Sprintf("reading standard output: %v", err))
		p.mu.Unlock()
		io.Copy(io.Discard, r) // so that the member does not block on a full pipe
	}
}

// parseDeliver parses the commonest line fast, so that the test keeps up
// with the members even when it is built with -race: a delivery as
// encoding/json writes it (keys sorted), {"data":"…","from":"…","type":"deliver"},
// both strings plain printable ASCII. Any other line is left to the JSON decoder.
func parseDeliver(line []byte) (from, data string, ok bool) {
	rest, ok := bytes.CutPrefix(line, []byte(`{"data":"`))
	if !ok {
		return "", "", false
	}
	rest, ok = bytes.CutSuffix(rest, []byte(`","type":"deliver"}`))
	if !ok {
		return "", "", false
	}
	d, f, ok := bytes.Cut(rest, []byte(`","from":"`))
	if !ok || !plainJSON(d) || !plainJSON(f) {
		return "", "", false
	}
	return string(f), string(d), true
}

// plainJSON reports whether b is printable ASCII with no quote or
// backslash: a JSON string's contents that mean themselves.
func plainJSON(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// badLine records that the last line read breaks the output format.
// p.mu is held.
func (p *memberProc) badLine(why string) {
	p.bad = append(p.bad, fmt.Sprintf("line %d: %s: %s", len(p.raw), why, p.raw[len(p.raw)-1]))
}

// apply adds one parsed event to the log. p.mu is held.
func (p *memberProc) apply(ev memberEvent) {
	switch {
	case ev.Type == "ready":
		if len(p.raw) != 1 || ev.Self == "" {
			p.badLine("ready is not the first line, or names no member")
		}
		p.self, p.id, p.policy = ev.Self, ev.Identity, ev.Protection
		if ev.SenderAuth {
			p.policy += "+sender-auth"
		}
	case p.self == "":
		p.badLine("event before ready")
	case p.left:
		p.badLine("event after left")
	case ev.Type == "view":
		if ev.View == "" || !slices.Contains(ev.Members, p.self) {
			p.badLine("view without an id, or without this member")
		}
		if p.id != "" && (ev.Epoch == nil || len(ev.Identities) != len(ev.Members) || ev.Identities[slices.Index(ev.Members, p.self)] != p.id) {
			p.badLine("a secured member's view without its epoch, or without the identities of its members")
		}
		p.views = append(p.views, procView{id: ev.View, epoch: ev.Epoch, ids: ev.Identities, members: ev.Members, joined: ev.Joined, failed: ev.Failed,
			first: len(p.delivs), count: map[string]int{}})
	case ev.Type == "key":
		if len(p.views) == 0 || ev.Epoch == nil || p.views[len(p.views)-1].epoch == nil || *ev.Epoch != *p.views[len(p.views)-1].epoch || ev.Reason == "" {
			p.badLine("a key change that does not follow a view of its epoch")
		}
		p.keys = append(p.keys, ev.Reason)
	case ev.Type == "deliver":
		if len(p.views) == 0 {
			p.badLine("delivery before the first view")
		} else {
			p.views[len(p.views)-1].count[ev.From]++
		}
		p.delivs = append(p.delivs, delivery{from: ev.From, data: ev.Data, view: len(p.views) - 1})
	case ev.Type == "send":
		if len(p.views) == 0 {
			p.badLine("send before the first view")
		}
		p.sends = append(p.sends, delivery{from: ev.From, data: ev.Data, view: len(p.views) - 1})
	case ev.Type == "block":
	case ev.Type == "counters":
		p.counters = ev.Counters
	case ev.Type == "left":
		p.left = true
	default:
		p.badLine("unknown event type")
	}
}

// waitFor waits until cond, called with p.mu held, reports done. It fails
// if cond returns an error, the process exits first or the deadline passes.
func (p *memberProc) waitFor(deadline time.Time, what string, cond func() (bool, error)) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	check := func() (bool, error) {
		p.mu.Lock()
		defer p.mu.Unlock()
		return cond()
	}
	for {
		done, err := check()
		switch {
		case err != nil:
			return fmt.Errorf("member %d (%s) waiting for %s: %w\n%s", p.index, p.addr, what, err, p.summary())
		case done:
			return nil
		}
		select {
		case <-p.notify:
		case <-p.exited:
			if done, err := check(); done && err == nil {
				return nil
			}
			return fmt.Errorf("member %d (%s) exited (%v) before %s\n%s", p.index, p.addr, p.waitErr, what, p.summary())
		case <-timer.C:
			return fmt.Errorf("member %d (%s): still no %s\n%s", p.index, p.addr, what, p.summary())
		}
	}
}

// currentView returns the view the process is in, or the zero procView.
// p.mu is held.
func (p *memberProc) currentView() procView {
	if len(p.views) == 0 {
		return procView{}
	}
	return p.views[len(p.views)-1]
}

// viewIndex returns the index in views of the view with the given id, or
// -1. p.mu is held, or the process has exited.
func (p *memberProc) viewIndex(id string) int {
	return slices.IndexFunc(p.views, func(v procView) bool { return v.id == id })
}

// hasExited reports whether the process has exited and its output is read.
func (p *memberProc) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL unless the process has exited, and waits for it.
func (p *memberProc) kill() {
	if !p.hasExited() {
		p.cmd.Process.Kill()
	}
	<-p.exited
}

// awaitExit waits until the deadline for the process to exit, and returns
// why it did.
func (p *memberProc) awaitExit(deadline time.Time) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case <-p.exited:
		return p.waitErr
	case <-timer.C:
		return fmt.Errorf("member %d (%s) still running\n%s", p.index, p.addr, p.summary())
	}
}

// summary describes what the process printed, for failure messages: every
// line but deliveries, how many deliveries there were, and the last lines.
func (p *memberProc) summary() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b strings.Builder
	fmt.Fprintf(&b, "  member %d (%s, %s): %d lines, %d deliveries, views:\n", p.index, p.addr, p.self, len(p.raw), len(p.delivs))
	for _, v := range p.views {
		fmt.Fprintf(&b, "    %v joined %v failed %v: %d deliveries\n", v, v.joined, v.failed, sumCounts(v.count))
	}
	for _, l := range p.bad {
		fmt.Fprintf(&b, "    bad output: %s\n", l)
	}
	tail := p.raw[max(0, len(p.raw)-8):]
	fmt.Fprintf(&b, "    last %d lines:\n", len(tail))
	for _, l := range tail {
		fmt.Fprintf(&b, "      %s\n", l)
	}
	return b.String()
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, c := range m {
		n += c
	}
	return n
}

// logTail logs the process's latest protocol log lines.
func (p *memberProc) logTail(t *testing.T) {
	p.mu.Lock()
	defer p.mu.Unlock()
	tail := p.logs[max(0, len(p.logs)-failureLogLines):]
	t.Logf("member %d (%s): the protocol's last %d log lines:\n  %s", p.index, p.addr, len(tail), strings.Join(tail, "\n  "))
}

// saveLogsOnFailure registers a cleanup that, if the test failed, writes
// every process's full output to files kept after the test, and logs where.
// Register it before starting the processes, so that it runs after their
// cleanups, once their output is read to the end.
func saveLogsOnFailure(t *testing.T, procs *[]*memberProc) {
	t.Cleanup(func() {
		if !t.Failed() || len(*procs) == 0 {
			return
		}
		dir, err := os.MkdirTemp("", "conclave-processes-")
		if err != nil {
			t.Logf("cannot keep the members' output: %v", err)
			return
		}
		for _, p := range *procs {
			p.mu.Lock()
			data := strings.Join(p.raw, "\n") + "\n"
			logs := slices.Clone(p.logs)
			p.mu.Unlock()
			p.logTail(t)
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("member%d.jsonl", p.index)), []byte(data), 0o644); err != nil {
				t.Logf("cannot keep the members' output: %v", err)
				return
			}
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("member%d.log", p.index)), []byte(strings.Join(logs, "\n")+"\n"), 0o644); err != nil {
				t.Logf("cannot keep the members' log: %v", err)
				return
			}
		}
		t.Logf("the members' full output is in %s", dir)
	})
}
