package sim

import (
	"strings"
	"testing"
	"time"
)

func TestParseFaults(t *testing.T) {
	for _, tc := range []struct {
		list string
		want Faults
	}{
		{"", Faults{}},
		{"  ", Faults{}},
		{"loss", Faults{Loss: 0.2}},
		{"loss,dup,reorder,delay", Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond}},
		{"delay, reorder", Faults{Reorder: 0.1, Delay: 5 * time.Millisecond}},
		{"loss=0.05", Faults{Loss: 0.05}},
		{"loss=5%,dup=1", Faults{Loss: 0.05, Duplicate: 1}},
		{"delay=250us", Faults{Delay: 250 * time.Microsecond}},
		{"crash,partition", Faults{Crash: true, Partition: true}},
		{"join, leave", Faults{Join: true, Leave: true}},
		{"all", Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond, Crash: true, Partition: true, Join: true, Leave: true}},
		{"loss=5%,all", Faults{Loss: 0.05, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond, Crash: true, Partition: true, Join: true, Leave: true}},
		{"loss,dup,reorder,delay,crash,partition,join,leave", Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond, Crash: true, Partition: true, Join: true, Leave: true}},
	} {
		got, err := ParseFaults(tc.list)
		if err != nil {
			t.Errorf("ParseFaults(%q): %v", tc.list, err)
			continue
		}
		if got != tc.want {
			t.Errorf("ParseFaults(%q) = %+v, want %+v", tc.list, got, tc.want)
		}
	}
}

func TestParseFaultsErrors(t *testing.T) {
	for _, tc := range []struct{ list, want string }{
		{"bogus", `unknown fault "bogus" (known: loss, dup, reorder, delay, crash, partition, join, leave, all)`},
		{"crash=1", `fault "crash": takes no value`},
		{"all=1", `fault "all" takes no value`},
		{"all,all", `fault "all" given twice`},
		{"all,crash", `fault "crash" given twice ("all" includes it)`},
		{"all,loss", `fault "loss" given twice ("all" includes it)`},
		{"all,loss=5%,loss=6%", `fault "loss" given twice`},
		{"all,bogus", `unknown fault "bogus"`},
		{"loss,Loss", `unknown fault "Loss"`},
		{"loss,,dup", "empty fault name"},
		{"loss,loss", `"loss" given twice`},
		{"loss=", "empty value"},
		{"loss=0", "probability"},
		{"loss=1.5", "probability"},
		{"loss=NaN", "probability"},
		{"loss=x%", "probability"},
		{"delay=-1ms", "duration"},
		{"delay=1h", "duration"},
		{"delay=5", "duration"},
	} {
		_, err := ParseFaults(tc.list)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseFaults(%q) = %v, want an error containing %q", tc.list, err, tc.want)
		}
	}
}

func TestFaultsString(t *testing.T) {
	for _, list := range []string{"", "loss", "loss,dup,reorder,delay", "loss=0.05,delay=2ms", "dup=0.3333333333333333,reorder", "crash,leave", "all", "all,loss=0.05,delay=1ms"} {
		f, err := ParseFaults(list)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.String(); got != list {
			t.Errorf("ParseFaults(%q).String() = %q", list, got)
		}
	}
}

// FuzzParseFaults checks that whatever ParseFaults accepts, String writes
// back as a list that parses to the same faults.
func FuzzParseFaults(f *testing.F) {
	for _, s := range []string{"", "loss", "loss,dup,reorder,delay", "loss=5%", "delay=1.5ms", "x", "loss=1e-300", "all", "all,dup=3%", "join,partition"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, list string) {
		faults, err := ParseFaults(list)
		if err != nil {
			return
		}
		again, err := ParseFaults(faults.String())
		if err != nil || again != faults {
			t.Fatalf("%q → %+v → %q → %+v, %v", list, faults, faults.String(), again, err)
		}
	})
}

func TestFaultsMembership(t *testing.T) {
	for list, want := range map[string]bool{"": false, "loss,dup,reorder,delay": false, "crash": true, "partition": true, "join": true, "leave": true, "all": true} {
		if got := mustParse(list).Membership(); got != want {
			t.Errorf("ParseFaults(%q).Membership() = %v", list, got)
		}
	}
}

func TestFaultHelpNamesEveryFault(t *testing.T) {
	help := FaultHelp()
	for _, name := range FaultNames() {
		if !strings.Contains(help, name) {
			t.Errorf("FaultHelp does not mention %q", name)
		}
	}
}
