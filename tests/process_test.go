//go:build linux

package tests

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestProcessesSurviveSIGKILL starts five `conclave member` processes on
// loopback, a secured group with the default stack (every datagram sealed
// under the view's epoch keys, each view's keys agreed in its view change),
// kills one with SIGKILL while all of them multicast, and checks
// that the survivors install one view of them all and multicast there, and
// that virtual synchrony held (see checkNewView): the survivors that moved
// together to a view without the killed member delivered the same messages
// in the view it was in. They all move together unless a member was paused
// past the failure detector's timeout, which its log then shows. Over the whole run, every member must
// deliver each sender's messages in the sender's order, once each, skipping
// none unless the sender was away from it for a while.
//
// One subtest kills a member in the middle of the view, another the
// view's coordinator, and the third freezes a survivor as it kills.
func TestProcessesSurviveSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("runs five conclave processes; skipped with -short")
	}
	bin := buildConclave(t)
	t.Run("member", func(t *testing.T) { testSIGKILL(t, bin, 2, 0) })
	t.Run("coordinator", func(t *testing.T) { testSIGKILL(t, bin, 0, 0) })
	// A survivor frozen (SIGSTOP) past the failure detector's timeout as
	// the other is killed: the rest may go on without it for a moment, and
	// the test must see from its log why, and see them all merge again.
	t.Run("frozen", func(t *testing.T) { testSIGKILL(t, bin, 2, sigkillFreeze) })
}

const (
	sigkillMembers = 5
	// sigkillBeforeKill is how many messages every member must have
	// delivered from every member before the kill: all are multicasting.
	sigkillBeforeKill = 100
	// sigkillAfterView is how many messages every survivor must have
	// delivered from every survivor in the new view before the test stops
	// multicasting: the new view works.
	sigkillAfterView = 20
	// sigkillMaxLines bounds how many lines a member is given to multicast;
	// the test stops them well before, once the new view works.
	sigkillMaxLines = 300_000
	// sigkillSuspect is the failure detector's timeout. Five processes
	// multicasting flat out share two cores with whatever else the machine
	// runs: a second of silence, not a few hundred milliseconds, is what
	// marks a member dead here.
	sigkillSuspect = time.Second
	// sigkillFreeze is how long the frozen subtest stops a survivor: past
	// the failure detector's timeout, as the loaded machines that split
	// the survivors did.
	sigkillFreeze = 2 * sigkillSuspect
)

// testSIGKILL runs the test, killing the member at rank victimRank of the
// first view of all five (rank 0 is the coordinator). If freeze is not
// zero, a survivor is stopped (SIGSTOP) as the victim is killed and
// continued freeze later: a machine that deschedules a process that long.
func testSIGKILL(t *testing.T, bin string, victimRank int, freeze time.Duration) {
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, sigkillMembers, "--suspect", sigkillSuspect.String())
	full := awaitOneView(t, procs)
	first := full // where the test began: the senders' order is checked from here

	// Every member multicasts p<index>-<k> for k = 0, 1, … until stop.
	stop := make(chan struct{})
	var writers sync.WaitGroup
	written := make([]int, len(procs))
	writeErrs := make([]error, len(procs))
	for i, p := range procs {
		writers.Add(1)
		go func() {
			defer writers.Done()
			n, err := p.multicastLines(stop, sigkillMaxLines)
			written[i] = n
			select {
			case <-stop: // the member may have exited first
			default:
				if err != nil {
					writeErrs[i] = fmt.Errorf("writing line %d to standard input: %v", n, err)
				}
			}
		}()
	}
	var stopOnce sync.Once
	stopWriting := func() { stopOnce.Do(func() { close(stop) }) }
	defer func() {
		stopWriting()
		for _, p := range procs {
			p.kill() // a writer blocked on a full pipe returns once its process is gone
		}
		writers.Wait()
	}()

	full = awaitBusyView(t, procs, full)
	index := map[string]int{} // member → index in procs
	for i, p := range procs {
		index[p.self] = i
	}
	victim := procs[index[full.members[victimRank]]]
	var survivors []*memberProc
	var survivorSet []string // sorted
	for _, p := range procs {
		if p != victim {
			survivors = append(survivors, p)
			survivorSet = append(survivorSet, p.self)
		}
	}
	slices.Sort(survivorSet)
	isSurvivorView := func(v procView) bool {
		return slices.Equal(slices.Sorted(slices.Values(v.members)), survivorSet)
	}
	t.Logf("view of all: %v; will kill member %d (%s), rank %d", full, victim.index, victim.self, victimRank)

	frozen := survivors[0]
	if freeze > 0 {
		if err := frozen.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
			t.Fatalf("SIGSTOP member %d: %v", frozen.index, err)
		}
	}
	killed := time.Now()
	if err := victim.cmd.Process.Kill(); err != nil {
		t.Fatalf("SIGKILL member %d: %v", victim.index, err)
	}
	if freeze > 0 {
		// The pause is the stimulus, not a wait for the protocol.
		time.Sleep(freeze)
		if err := frozen.cmd.Process.Signal(syscall.SIGCONT); err != nil {
			t.Fatalf("SIGCONT member %d: %v", frozen.index, err)
		}
		t.Logf("member %d was frozen for %v as member %d was killed", frozen.index, freeze, victim.index)
	}
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range survivors {
		err := p.waitFor(deadline, "view of the survivors", func() (bool, error) {
			return slices.ContainsFunc(p.views[p.viewIndex(full.id):], isSurvivorView), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("member %d installed a view of the survivors %v after the kill", p.index, time.Since(killed).Round(time.Millisecond))
	}
	converged := time.Now()
	<-victim.exited

	// Multicasting goes on in the new view.
	deadline = time.Now().Add(15 * time.Second)
	for _, p := range survivors {
		err := p.waitFor(deadline, fmt.Sprintf("%d deliveries from each survivor in a view of the survivors", sigkillAfterView), func() (bool, error) {
			v := p.currentView()
			if !isSurvivorView(v) {
				return false, nil
			}
			for _, m := range survivorSet {
				if v.count[m] < sigkillAfterView {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	// Stop: the survivors leave the group, all at once, and exit.
	stopWriting()
	for _, p := range survivors {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("member %d: SIGTERM: %v", p.index, err)
		}
	}
	deadline = time.Now().Add(15 * time.Second)
	for _, p := range survivors {
		if err := p.awaitExit(deadline); err != nil {
			t.Errorf("member %d: %v", p.index, err)
		}
	}
	for _, p := range procs {
		p.kill()
	}
	writers.Wait()
	t.Logf("lines multicast: %v", written)
	for i, err := range writeErrs {
		if err != nil && procs[i] != victim {
			t.Errorf("member %d: %v", i, err)
		}
	}

	// Every process has exited and its output is read: check it.
	for _, p := range procs {
		if len(p.bad) > 0 {
			t.Errorf("member %d printed malformed output:\n%s", p.index, p.summary())
		}
		checkSenderOrder(t, p, index, first)
	}
	checkNewView(t, survivors, procs, victim, full, survivorSet, killed, converged)
	if freeze > 0 {
		// The frozen member's log tells of its pause, which is what
		// lets checkNewView accept a split: the log's format and
		// parsePause agree.
		frozen.mu.Lock()
		found := slices.ContainsFunc(frozen.pauses, func(ps pause) bool { return ps.self == frozen.self && ps.d >= freeze*9/10 })
		pauses := slices.Clone(frozen.pauses)
		frozen.mu.Unlock()
		if !found {
			t.Errorf("member %d was frozen for %v; its log shows no such pause, only %v", frozen.index, freeze, pauses)
		}
	}
	if t.Failed() {
		for _, p := range procs {
			t.Log(p.summary())
		}
	}
}

// startMemberProcs starts n member processes on loopback, each with all the
// others as seeds and the given arguments, and waits until each is ready.
// Unless the arguments say --insecure, the group is secured: each member
// has a Noise key of its own and admits the keys of all. If one exits first
// (another program took its port), it starts them all again on other
// ports.
func startMemberProcs(t *testing.T, bin string, n int, args ...string) []*memberProc {
	t.Helper()
	keys := make([][]string, n)
	if !slices.Contains(args, "--insecure") {
		keys = groupKeys(t, n)
	}
	for attempt := 1; ; attempt++ {
		procs, err := tryStartMemberProcs(t, bin, n, attempt, args, keys)
		if err == nil {
			return procs
		}
		for _, p := range procs {
			p.kill()
		}
		if attempt == 3 {
			t.Fatalf("starting %d members, attempt %d: %v", n, attempt, err)
		}
		t.Logf("starting %d members, attempt %d: %v; trying again", n, attempt, err)
	}
}

func tryStartMemberProcs(t *testing.T, bin string, n, attempt int, args []string, keys [][]string) ([]*memberProc, error) {
	addrs, err := freeLoopbackAddrs(n)
	if err != nil {
		return nil, err
	}
	group := fmt.Sprintf("%s/%d/%d/%d", t.Name(), os.Getpid(), time.Now().UnixNano(), attempt)
	args = append(slices.Clip(args), "--group", group)
	var procs []*memberProc
	for i, addr := range addrs {
		seeds := slices.Delete(slices.Clone(addrs), i, i+1)
		p, err := startMemberProc(t, bin, i, addr, seeds, append(slices.Clip(args), keys[i]...)...)
		if err != nil {
			return procs, err
		}
		procs = append(procs, p)
	}
	deadline := time.Now().Add(10 * time.Second)
	for _, p := range procs {
		if err := p.waitFor(deadline, "ready", func() (bool, error) { return p.self != "", nil }); err != nil {
			return procs, err
		}
	}
	return procs, nil
}

// errViewEnded says that a member installed another view before the kill:
// the same members under a new id, or fewer, because a machine that
// starves a process of the CPU for longer than the failure detector's
// timeout makes it look dead (it then merges back). Neither is what the
// test is about; it waits for the next view of all the processes.
var errViewEnded = errors.New("installed another view before the kill")

// awaitBusyView waits until every process has delivered sigkillBeforeKill
// messages from each member in view full, and returns it. Another view
// installed before the kill (see errViewEnded) is logged, and the next view
// of all the processes waited in instead, twice at most; the protocol's
// log says why it happened.
func awaitBusyView(t *testing.T, procs []*memberProc, full procView) procView {
	t.Helper()
	for attempt := 1; ; attempt++ {
		err := awaitTraffic(procs, full)
		if err == nil {
			return full
		}
		if !errors.Is(err, errViewEnded) || attempt == 3 {
			t.Fatal(err)
		}
		t.Logf("view %s ended before the kill; waiting for the next view of all the processes: %v", full.id, err)
		for _, p := range procs {
			p.logTail(t)
		}
		full = awaitOneView(t, procs)
	}
}

// awaitTraffic waits until every process has delivered sigkillBeforeKill
// messages from each member in view full.
func awaitTraffic(procs []*memberProc, full procView) error {
	deadline := time.Now().Add(15 * time.Second)
	for _, p := range procs {
		err := p.waitFor(deadline, fmt.Sprintf("%d deliveries from each member in %s", sigkillBeforeKill, full.id), func() (bool, error) {
			v := p.currentView()
			if v.id != full.id {
				return false, fmt.Errorf("%w: %v", errViewEnded, v)
			}
			for _, m := range full.members {
				if v.count[m] < sigkillBeforeKill {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// awaitOneView waits until every process is in a view of all of them, the
// same one, and returns it.
func awaitOneView(t *testing.T, procs []*memberProc) procView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, p := range procs {
		err := p.waitFor(deadline, fmt.Sprintf("view of %d members", len(procs)), func() (bool, error) {
			return len(p.currentView().members) == len(procs), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	views := make([]procView, len(procs))
	for i, p := range procs {
		p.mu.Lock()
		views[i] = p.currentView()
		p.mu.Unlock()
	}
	for i, v := range views {
		if v.id != views[0].id || !slices.Equal(v.members, views[0].members) ||
			(v.epoch == nil) != (views[0].epoch == nil) || v.epoch != nil && *v.epoch != *views[0].epoch || !slices.Equal(v.ids, views[0].ids) {
			t.Fatalf("member %d is in %v, member 0 in %v (identities %v and %v)", i, v, views[0], v.ids, views[0].ids)
		}
	}
	return views[0]
}

// multicastLines writes p<index>-<k> for k = 0, 1, … to the process's
// standard input, one write per line (so that no line is ever cut), until
// stop is closed or limit lines are written, and then closes it. A write
// blocks while the member's flow control holds it back.
func (p *memberProc) multicastLines(stop <-chan struct{}, limit int) (int, error) {
	defer p.stdin.Close()
	var line []byte
	for k := range limit {
		select {
		case <-stop:
			return k, nil
		default:
		}
		line = fmt.Appendf(line[:0], "p%d-%d\n", p.index, k)
		if _, err := p.stdin.Write(line); err != nil {
			return k, err
		}
	}
	return limit, nil
}

// parseLine returns the sender index and sequence number of a line that
// multicastLines wrote.
func parseLine(data string) (sender, k int, ok bool) {
	s, n, found := strings.Cut(data, "-")
	if !found || !strings.HasPrefix(s, "p") {
		return 0, 0, false
	}
	sender, err1 := strconv.Atoi(s[1:])
	k, err2 := strconv.Atoi(n)
	return sender, k, err1 == nil && err2 == nil
}

// checkSenderOrder checks that p delivered each sender's messages in the
// order they were multicast, each once, each from the member that
// multicast it and in a view that had that member; and that it skipped none
// of them unless the sender had been away (it joined p's view again after a
// partition or a false suspicion: what it sent meanwhile went to others).
// The members multicast only from view full on.
func checkSenderOrder(t *testing.T, p *memberProc, index map[string]int, full procView) {
	t.Helper()
	fullIdx := p.viewIndex(full.id)
	next := map[string]int{}     // by sender: the next index expected
	lastView := map[string]int{} // by sender: the view of its last delivery
	var errs []string
	for i, d := range p.delivs {
		sender, k, ok := parseLine(d.data)
		if x, known := index[d.from]; !ok || !known || x != sender {
			errs = append(errs, fmt.Sprintf("delivery %d: %q from %s, which never multicast it", i, d.data, d.from))
			continue
		}
		if d.view < fullIdx || !p.views[d.view].has(d.from) {
			errs = append(errs, fmt.Sprintf("delivery %d: %q from %s in %v, which is not a view of the sender's since the test began", i, d.data, d.from, p.views[max(d.view, 0)]))
			continue
		}
		from, seen := lastView[d.from]
		if !seen {
			from = fullIdx
		}
		switch {
		case k < next[d.from]:
			errs = append(errs, fmt.Sprintf("delivery %d: %q in %s, after p%d-%d: again or out of order", i, d.data, p.views[d.view].id, sender, next[d.from]-1))
		case k > next[d.from] && !rejoined(p.views[from+1:d.view+1], d.from):
			errs = append(errs, fmt.Sprintf("delivery %d: %q in %s, after p%d-%d in %s: %d messages skipped, and the sender was never away",
				i, d.data, p.views[d.view].id, sender, next[d.from]-1, p.views[from].id, k-next[d.from]))
		}
		next[d.from] = max(next[d.from], k+1)
		lastView[d.from] = d.view
	}
	if len(errs) > 0 {
		t.Errorf("member %d broke the senders' order (%d errors, first ones):\n  %s", p.index, len(errs), strings.Join(errs[:min(len(errs), 10)], "\n  "))
	}
}

// rejoined reports whether m joined one of the views.
func rejoined(views []procView, m string) bool {
	return slices.ContainsFunc(views, func(v procView) bool { return slices.Contains(v.joined, m) })
}

// transition is a member's move from the last view with the killed member
// to the first without it.
type transition struct {
	old, new procView
	cast     map[string]bool // the messages delivered in old
}

// checkNewView checks virtual synchrony across the kill. The survivors that
// installed the same first view without the killed member came from the
// same old view and delivered the same messages there (so what one of them
// multicast and delivered there, all of them delivered), and share the new
// view's epoch, a later one than the old view's, which the killed member
// held. Survivors whose first views differ split the group for a moment;
// that is a protocol bug unless a member's log shows a pause at least as
// long as the failure detector's timeout between a timeout before the kill
// and the time all the survivors were in one view (converged), which makes
// the members it could not hear from look as dead as the killed one.
func checkNewView(t *testing.T, survivors, procs []*memberProc, victim *memberProc, full procView, survivorSet []string, killed, converged time.Time) {
	t.Helper()
	trs := make([]transition, len(survivors))
	for i, p := range survivors {
		// The first view without the victim from the view of all on.
		f := p.viewIndex(full.id)
		j := slices.IndexFunc(p.views[f:], func(v procView) bool { return !v.has(victim.self) })
		if j < 0 {
			t.Fatalf("member %d never installed a view without the killed member\n%s", p.index, p.summary())
		}
		j += f
		tr := transition{old: p.views[j-1], new: p.views[j], cast: map[string]bool{}}
		for _, d := range p.delivs[tr.old.first:tr.new.first] {
			tr.cast[d.data] = true
		}
		trs[i] = tr
	}

	// The survivors, by the first view they installed without the victim.
	var firsts []string
	moved := map[string][]int{} // new view id → indexes in survivors
	for i, tr := range trs {
		if moved[tr.new.id] == nil {
			firsts = append(firsts, tr.new.id)
		}
		moved[tr.new.id] = append(moved[tr.new.id], i)
	}
	if len(firsts) > 1 {
		var pauses []pause
		for _, p := range procs {
			p.mu.Lock()
			pauses = append(pauses, p.pauses...)
			p.mu.Unlock()
		}
		var split []string
		for _, id := range firsts {
			split = append(split, trs[moved[id][0]].new.String())
		}
		why := pausesExplaining(pauses, sigkillSuspect, killed.Add(-sigkillSuspect), converged)
		if len(why) == 0 {
			t.Errorf("the survivors split after the kill, into %s, and no member's log shows a pause of %v or more: a split without a cause",
				strings.Join(split, " and "), sigkillSuspect)
		} else {
			t.Logf("accepted: the survivors split after the kill, into %s, as members were paused past the failure detector's timeout of %v: %v",
				strings.Join(split, " and "), sigkillSuspect, why)
		}
	}

	for _, id := range firsts {
		ix := moved[id]
		ref, refP := trs[ix[0]], survivors[ix[0]]
		for _, i := range ix {
			tr, p := trs[i], survivors[i]
			if len(firsts) == 1 && !slices.Equal(slices.Sorted(slices.Values(tr.new.members)), survivorSet) {
				t.Errorf("member %d: the first view without the killed member is %v, not a view of the survivors %v", p.index, tr.new, survivorSet)
			}
			if !slices.Contains(tr.new.failed, victim.self) {
				t.Errorf("member %d: %v does not report %s as failed: failed %v", p.index, tr.new, victim.self, tr.new.failed)
			}
			if !slices.Equal(tr.new.members, ref.new.members) {
				t.Errorf("member %d installed %v after the kill, member %d %v", p.index, tr.new, refP.index, ref.new)
			}
			if tr.old.id != ref.old.id {
				t.Errorf("member %d came from %v, member %d from %v, into the same %s", p.index, tr.old, refP.index, ref.old, id)
			}
			if tr.old.id != full.id {
				t.Logf("member %d: the view before the kill was %v, not the view of all %v", p.index, tr.old, full)
			}
			// A secured group: the survivors share the new view's epoch, a
			// later one than the old view's, which the killed member held.
			if tr.new.epoch == nil || ref.new.epoch == nil || tr.old.epoch == nil || *tr.new.epoch != *ref.new.epoch || *tr.new.epoch <= *tr.old.epoch {
				t.Errorf("member %d: epochs: %v after the kill (member %d: %v), %v before", p.index, tr.new, refP.index, ref.new, tr.old)
			}
		}
		checkSameDeliveries(t, survivors, trs, ix)
	}
}

// checkSameDeliveries checks virtual synchrony among the survivors at
// indexes ix, which moved together from one view to the next: what one
// multicast and delivered itself in the old view, every one delivered
// there; and the whole of it, they delivered the same messages there.
func checkSameDeliveries(t *testing.T, survivors []*memberProc, trs []transition, ix []int) {
	t.Helper()
	for _, i := range ix {
		tr, p := trs[i], survivors[i]
		var own []string
		for _, d := range p.delivs[tr.old.first:tr.new.first] {
			if d.from == p.self {
				own = append(own, d.data)
			}
		}
		for _, j := range ix {
			var lacking []string
			for _, data := range own {
				if !trs[j].cast[data] {
					lacking = append(lacking, data)
				}
			}
			if lacking != nil {
				t.Errorf("member %d multicast and delivered %d messages in %s; member %d did not deliver %d of them there: %s",
					p.index, len(own), tr.old.id, survivors[j].index, len(lacking), strings.Join(lacking[:min(len(lacking), 5)], " "))
			}
		}
		t.Logf("member %d delivered %d messages in %s, %d of its own, and moved to %s", p.index, len(tr.cast), tr.old.id, len(own), tr.new.id)
	}
	same := true
	for _, i := range ix[1:] {
		same = same && maps.Equal(trs[i].cast, trs[ix[0]].cast)
	}
	if !same {
		var sv []*memberProc
		var st []transition
		for _, i := range ix {
			sv, st = append(sv, survivors[i]), append(st, trs[i])
		}
		t.Errorf("survivors that moved together to %s delivered different messages in the view they left:\n%s", trs[ix[0]].new.id, describeOldView(sv, st))
	}
}

// describeOldView tells, for each survivor and each sender, which range of
// the sender's messages the survivor delivered in the last view with the
// killed member.
func describeOldView(survivors []*memberProc, trs []transition) string {
	var b strings.Builder
	for i, p := range survivors {
		lo, hi, n := map[int]int{}, map[int]int{}, map[int]int{}
		for data := range trs[i].cast {
			s, k, _ := parseLine(data)
			if n[s] == 0 || k < lo[s] {
				lo[s] = k
			}
			hi[s] = max(hi[s], k)
			n[s]++
		}
		fmt.Fprintf(&b, "  member %d in %s:", p.index, trs[i].old.id)
		for _, s := range slices.Sorted(maps.Keys(n)) {
			fmt.Fprintf(&b, " p%d-%d…%d (%d)", s, lo[s], hi[s], n[s])
		}
		b.WriteString("\n")
	}
	return b.String()
}

// FuzzParseDeliver checks the fast path for deliveries against
// encoding/json: whatever it accepts, the decoder reads the same way, and
// it accepts what the member writes for plain strings.
func FuzzParseDeliver(f *testing.F) {
	f.Add([]byte(`{"data":"p1-2","from":"127.0.0.1:7000#0000abcd","type":"deliver"}`), "p1-2")
	f.Add([]byte(`{"data":"a\"b","from":"x","type":"deliver"}`), `a"b`)
	f.Add([]byte(`{"data":"","from":"","type":"deliver"}`), "<&>")
	f.Fuzz(func(t *testing.T, line []byte, s string) {
		if from, data, ok := parseDeliver(line); ok {
			var ev memberEvent
			if err := json.Unmarshal(line, &ev); err != nil || ev.Type != "deliver" || ev.From != from || ev.Data != data {
				t.Fatalf("parseDeliver(%q) = %q, %q; encoding/json: %+v, %v", line, from, data, ev, err)
			}
		}
		b, err := json.Marshal(map[string]any{"type": "deliver", "from": s, "data": s})
		if err != nil {
			t.Fatal(err)
		}
		enc, _ := json.Marshal(s)
		plain := plainJSON(enc[1 : len(enc)-1])
		from, data, ok := parseDeliver(b)
		if ok != plain || ok && (from != s || data != s) {
			t.Fatalf("parseDeliver(%q) = %q, %q, %v", b, from, data, ok)
		}
	})
}
