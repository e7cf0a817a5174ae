package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/sim"
)

// execSim runs conclave with args in-process and returns its stdout and
// stderr and the error Execute returned.
func execSim(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	err = root.Execute()
	return out.String(), errOut.String(), err
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return lines[len(lines)-1]
}

func TestSimPasses(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "4", "--seed-start", "10", "--messages", "30")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	if stdout != "seeds=4 violations=0\n" {
		t.Fatalf("stdout = %q", stdout)
	}
}

func TestSimFailsWithReplay(t *testing.T) {
	// A network that loses everything: nothing reaches the other member.
	stdout, _, err := execSim(t, "sim", "--seeds", "2", "--seed-start", "5", "--members", "2", "--messages", "2", "--faults", "loss=1")
	var ee exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit status 1", err)
	}
	if got := lastLine(stdout); got != "seeds=2 violations=2" {
		t.Fatalf("last line %q, stdout:\n%s", got, stdout)
	}
	for _, want := range []string{
		"seed=5 violation: liveness: the 2 members did not form one view within 10s: m0 in view 1@m0 [m0]; m1 in view 1@m1 [m1]\n",
		"replay: conclave sim --seeds 1 --seed-start 5 --members 2 --messages 2 --faults loss=1\n",
		"replay: conclave sim --seeds 1 --seed-start 6 --members 2 --messages 2 --faults loss=1\n",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Index(stdout, "seed=5 ") > strings.Index(stdout, "seed=6 ") {
		t.Errorf("seeds reported out of order:\n%s", stdout)
	}
}

func TestSimJSON(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "3", "--messages", "10", "--faults", "loss,dup", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc simJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if doc.Seeds != 3 || doc.Violations != 0 || doc.Faults != "loss,dup" || len(doc.Results) != 3 || doc.Results[2].Seed != 3 || !doc.Results[0].OK {
		t.Fatalf("%+v", doc)
	}
	// Same seeds, same traces.
	again, _, _ := execSim(t, "sim", "--seeds", "3", "--messages", "10", "--faults", "loss,dup", "--json")
	var doc2 simJSON
	if err := json.Unmarshal([]byte(again), &doc2); err != nil {
		t.Fatal(err)
	}
	for i := range doc.Results {
		if doc.Results[i].Trace != doc2.Results[i].Trace {
			t.Errorf("seed %d: trace %s then %s", doc.Results[i].Seed, doc.Results[i].Trace, doc2.Results[i].Trace)
		}
	}
}

func TestSimRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--faults", "loss,bogus"}, `unknown fault "bogus" (known: loss, dup, reorder, delay, crash, partition, join, leave, all)`},
		{[]string{"--faults", "all,crash"}, `fault "crash" given twice`},
		{[]string{"--trace"}, "--trace: traces one seed; add --seeds 1"},
		{[]string{"--seeds", "1", "--trace", "--json"}, "--trace and --json do not go together"},
		{[]string{"--faults", "loss=2"}, `fault "loss"`},
		{[]string{"--members", "0"}, "--members 0: want 1 to 64"},
		{[]string{"--members", "65"}, "--members 65: want 1 to 64"},
		{[]string{"--seeds", "0"}, "--seeds 0: want at least 1"},
		{[]string{"--messages", "-1"}, "--messages -1"},
		{[]string{"--active", "-1s"}, "--active -1s: want 0 to 1m"},
		{[]string{"--insecure", "--participant"}, "--insecure and --participant do not go together"},
		{[]string{"extra"}, "unknown command"},
	} {
		stdout, _, err := execSim(t, append([]string{"sim"}, tc.args...)...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("sim %q: err = %v, want %q", tc.args, err, tc.want)
		}
		if stdout != "" {
			t.Errorf("sim %q printed %q", tc.args, stdout)
		}
	}
}

func TestSimHelpNamesTheFaults(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"--seeds", "--seed-start", "--members", "--messages", "--faults", "--total", "--trace", "--json",
		"loss ", "dup ", "reorder ", "delay ", "crash ", "partition ", "join ", "leave ", "all ", "replay", "virtual synchrony"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}

// TestSimMembershipFaults checks the plumbing of membership faults: they
// happen, the summary counts them, the output ends as always.
func TestSimMembershipFaults(t *testing.T) {
	stdout, stderr, err := execSim(t, "sim", "--seeds", "2", "--members", "4", "--messages", "10", "--faults", "all")
	if got := lastLine(stdout); got != "seeds=2 violations=0" && got != "seeds=2 violations=1" && got != "seeds=2 violations=2" {
		t.Fatalf("last line %q, err %v", got, err)
	}
	if !strings.Contains(stderr, " crashes (") || !strings.Contains(stderr, "slowest convergence") {
		t.Errorf("stderr lacks the membership summary:\n%s", stderr)
	}
}

func TestSimTrace(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "1", "--seed-start", "3", "--members", "3", "--messages", "5", "--trace")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	for _, want := range []string{"m0 starts as ", "m2 installs view ", "phase active: formed view ", "delivers cast 1 #4 (cast from m1)", "phase done: drained", "membership.views_installed="} {
		if !strings.Contains(stdout, want) {
			t.Errorf("trace lacks %q", want)
		}
	}
	if got := lastLine(stdout); got != "seeds=1 violations=0" {
		t.Errorf("last line %q", got)
	}
}

func TestSimReplay(t *testing.T) {
	f, err := sim.ParseFaults("all,loss=5%")
	if err != nil {
		t.Fatal(err)
	}
	got := simReplay(sim.Config{Seed: 9, Members: 5, Messages: 7, Faults: f, Total: true, Secure: true})
	if want := "conclave sim --seeds 1 --seed-start 9 --members 5 --messages 7 --faults all,loss=0.05 --total"; got != want {
		t.Errorf("replay %q, want %q", got, want)
	}
	if got := simReplay(sim.Config{Seed: 1, Members: 3, Secure: true}); !strings.HasSuffix(got, `--faults ""`) {
		t.Errorf("replay %q", got)
	}
	// The plain stack, and an active phase other than the default.
	got = simReplay(sim.Config{Seed: 2, Members: 3, Messages: 7, Faults: f, Active: 1500 * time.Millisecond})
	if want := "conclave sim --seeds 1 --seed-start 2 --members 3 --messages 7 --faults all,loss=0.05 --insecure --active 1.5s"; got != want {
		t.Errorf("replay %q, want %q", got, want)
	}
}

func TestSimAttackers(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "2", "--members", "3", "--messages", "20", "--faults", "loss", "--attackers", "--json")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	var doc simJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if !doc.Attackers || doc.Violations != 0 || len(doc.Results) != 2 || doc.Results[0].Attacks == 0 {
		t.Fatalf("%+v", doc)
	}
	stdout, _, err = execSim(t, "sim", "--seeds", "2", "--members", "3", "--messages", "20", "--faults", "loss", "--attackers")
	if err != nil || stdout != "seeds=2 violations=0\n" {
		t.Fatalf("err = %v, stdout = %q", err, stdout)
	}
	if got := simReplay(sim.Config{Seed: 3, Members: 3, Messages: 20, Attackers: true, Secure: true}); !strings.HasSuffix(got, " --attackers") {
		t.Fatalf("replay %q does not attack", got)
	}
	help, _, err := execSim(t, "sim", "--help")
	if err != nil || !strings.Contains(help, "--attackers") || !strings.Contains(help, "third address") {
		t.Fatalf("err = %v, help:\n%s", err, help)
	}
}

// TestSimParticipant runs seeds with the test participant: every view is
// installed with a decision the checker checked, the group rekeys, and a
// failing seed's replay keeps the flag.
func TestSimParticipant(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "3", "--messages", "20", "--faults", "loss,dup", "--participant", "--json")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	var doc simJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if !doc.Participant || doc.Violations != 0 || len(doc.Results) != 3 {
		t.Fatalf("%+v", doc)
	}
	rekeys := 0
	for _, r := range doc.Results {
		if r.Decided == 0 || r.Decided != r.Views {
			t.Errorf("seed %d: %d of %d views checked for their decision", r.Seed, r.Decided, r.Views)
		}
		rekeys += r.Rekeys
	}
	if rekeys == 0 {
		t.Error("no rekey round")
	}
	if got := simReplay(sim.Config{Seed: 4, Members: 3, Messages: 20, Participant: true}); !strings.HasSuffix(got, " --participant") {
		t.Errorf("replay %q lacks --participant", got)
	}
	_, stderr, err := execSim(t, "sim", "--seeds", "1", "--messages", "10", "--participant")
	if err != nil || !strings.Contains(stderr, "installed with a decision") {
		t.Errorf("err %v; stderr lacks the decisions' summary:\n%s", err, stderr)
	}
}

// TestSimSecuredByDefault runs seeds with the secure participant (the
// default) and the plain stack (--insecure): the secured ones check an
// epoch in every view, the plain ones none; with --attackers the summary
// counts each attacker's attempts by reason, and none succeeds.
func TestSimSecuredByDefault(t *testing.T) {
	stdout, _, err := execSim(t, "sim", "--seeds", "2", "--messages", "10", "--faults", "loss,dup", "--json")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	var doc simJSON
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if !doc.Secure || doc.Participant || doc.Violations != 0 {
		t.Fatalf("%+v", doc)
	}
	for _, r := range doc.Results {
		if r.Decided == 0 || r.Decided != r.Views {
			t.Errorf("seed %d: %d of %d views checked for their epoch", r.Seed, r.Decided, r.Views)
		}
	}
	stdout, _, err = execSim(t, "sim", "--seeds", "2", "--messages", "10", "--faults", "loss,dup", "--insecure", "--json")
	if err != nil {
		t.Fatalf("err = %v, stdout:\n%s", err, stdout)
	}
	doc = simJSON{}
	if err := json.Unmarshal([]byte(stdout), &doc); err != nil {
		t.Fatalf("%v in %s", err, stdout)
	}
	if doc.Secure || doc.Violations != 0 || doc.Results[0].Decided != 0 {
		t.Fatalf("%+v", doc)
	}
	stdout, stderr, err := execSim(t, "sim", "--seeds", "1", "--members", "4", "--messages", "10", "--active", "1s", "--faults", "all", "--attackers")
	if err != nil || stdout != "seeds=1 violations=0\n" {
		t.Fatalf("err = %v, stdout = %q", err, stdout)
	}
	for _, want := range []string{"installed with an epoch", "sim: insider: ", "sim: outsider: ", "sim: keyless: ", "sim: replay: ", "drop.forged_control "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

// TestSimSenderAuthAttackers runs seeds with sender authentication under
// attack: the summary counts the insiders' forgeries of multicasts, the
// batches sign verified and refused, and no forged multicast delivered.
func TestSimSenderAuthAttackers(t *testing.T) {
	stdout, stderr, err := execSim(t, "sim", "--seeds", "2", "--members", "4", "--messages", "20", "--active", "1s", "--faults", "all", "--sender-auth", "--attackers")
	if err != nil || stdout != "seeds=2 violations=0\n" {
		t.Fatalf("err = %v, stdout = %q, stderr:\n%s", err, stdout, stderr)
	}
	for _, want := range []string{"sim: sign-forger: ", "sim: sign-alter: ", " refused; 0 forged multicasts delivered\n", "sim: insiders' forgeries kept by their target"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("no %q in stderr:\n%s", want, stderr)
		}
	}
}
