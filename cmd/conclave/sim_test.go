package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
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
		"seed=5 violation: member 0: 2 of 2 casts from 1 undelivered at the deadline",
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
		{[]string{"--faults", "loss,bogus"}, `unknown fault "bogus" (known: loss, dup, reorder, delay)`},
		{[]string{"--faults", "loss=2"}, `fault "loss"`},
		{[]string{"--members", "0"}, "--members 0: want 1 to 64"},
		{[]string{"--members", "65"}, "--members 65: want 1 to 64"},
		{[]string{"--seeds", "0"}, "--seeds 0: want at least 1"},
		{[]string{"--messages", "-1"}, "--messages -1"},
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
	for _, want := range []string{"--seeds", "--seed-start", "--members", "--messages", "--faults", "--json", "loss ", "dup ", "reorder ", "delay ", "replay"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
