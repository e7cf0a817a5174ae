package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// Faults says what goes wrong during a run. The zero value is a perfect
// network and a group nobody disturbs.
//
// The network faults (Loss, Duplicate, Reorder, Delay) stay on for the whole
// run. The membership faults (Crash, Partition, Join, Leave) happen only in
// the active phase, at times and to members drawn from the seed; when it
// ends they stop, partitions heal, and the group must converge.
type Faults struct {
	Loss      float64       // probability a datagram is lost
	Duplicate float64       // probability a datagram arrives twice
	Reorder   float64       // probability a datagram is held back so later ones overtake it
	Delay     time.Duration // each datagram is delayed uniformly in [0, Delay]

	Crash     bool // processes crash, a minority at a time; some restart as new endpoints
	Partition bool // the network splits in two for a while, then heals
	Join      bool // new processes start and join
	Leave     bool // members leave
}

// Membership reports whether any membership fault is on.
func (f Faults) Membership() bool { return f.Crash || f.Partition || f.Join || f.Leave }

// Network returns the network faults for the in-memory network.
func (f Faults) Network() transport.Faults {
	return transport.Faults{Loss: f.Loss, Duplicate: f.Duplicate, Reorder: f.Reorder, Delay: f.Delay}
}

// String gives back the fault list ParseFaults reads as f: each fault that
// is on, by its bare name at its preset and as name=value otherwise; ""
// when nothing is. When every fault is on it starts with "all", followed
// by the faults not at their presets.
func (f Faults) String() string {
	var parts []string
	every := true
	for _, k := range faultKinds {
		every = every && k.format(f) != ""
	}
	if every {
		parts = append(parts, allName)
	}
	for _, k := range faultKinds {
		s := k.format(f)
		if s != "" && !(every && s == k.name) {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ",")
}

// faultKind is one name ParseFaults accepts. Adding a fault is adding an
// entry to faultKinds (and a field to Faults); "all" switches on every
// entry.
type faultKind struct {
	name string
	help string
	// set switches the fault on: at its preset when value is "", else at
	// value, the text after '='.
	set func(f *Faults, value string) error
	// format returns f's setting as a list element: "" when off.
	format func(f Faults) string
}

// Presets: what a bare fault name switches on.
const (
	PresetLoss      = 0.20
	PresetDuplicate = 0.10
	PresetReorder   = 0.10
	PresetDelay     = 5 * time.Millisecond
)

// maxDelay bounds delay=D, so that a typo cannot push every datagram past
// the liveness deadline.
const maxDelay = time.Second

var faultKinds = []faultKind{
	probability("loss", "lose 20% of datagrams", PresetLoss, func(f *Faults) *float64 { return &f.Loss }),
	probability("dup", "deliver 10% of datagrams twice", PresetDuplicate, func(f *Faults) *float64 { return &f.Duplicate }),
	probability("reorder", "hold back 10% of datagrams so later ones overtake them", PresetReorder, func(f *Faults) *float64 { return &f.Reorder }),
	{
		name: "delay",
		help: "delay every datagram by up to 5ms",
		set: func(f *Faults, v string) error {
			if v == "" {
				f.Delay = PresetDelay
				return nil
			}
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 || d > maxDelay {
				return fmt.Errorf("want a duration in (0, %v], like 5ms", maxDelay)
			}
			f.Delay = d
			return nil
		},
		format: func(f Faults) string {
			switch f.Delay {
			case 0:
				return ""
			case PresetDelay:
				return "delay"
			}
			return "delay=" + f.Delay.String()
		},
	},
	event("crash", "crash processes (a minority at a time); some restart as new endpoints", func(f *Faults) *bool { return &f.Crash }),
	event("partition", "split the network in two for a while, then heal it", func(f *Faults) *bool { return &f.Partition }),
	event("join", "start new processes that join the group", func(f *Faults) *bool { return &f.Join }),
	event("leave", "make members leave the group", func(f *Faults) *bool { return &f.Leave }),
}

// allName switches on every fault at its preset.
const allName = "all"

// event is a membership fault: on or off, named alone.
func event(name, help string, field func(*Faults) *bool) faultKind {
	return faultKind{
		name: name,
		help: help,
		set: func(f *Faults, v string) error {
			if v != "" {
				return errors.New("takes no value")
			}
			*field(f) = true
			return nil
		},
		format: func(f Faults) string {
			if *field(&f) {
				return name
			}
			return ""
		},
	}
}

// probability is a fault kind set by a probability: name alone for preset,
// name=P with P a fraction (0.05) or a percentage (5%).
func probability(name, help string, preset float64, field func(*Faults) *float64) faultKind {
	return faultKind{
		name: name,
		help: help,
		set: func(f *Faults, v string) error {
			if v == "" {
				*field(f) = preset
				return nil
			}
			num, scale := v, 1.0
			if s, ok := strings.CutSuffix(v, "%"); ok {
				num, scale = s, 100
			}
			p, err := strconv.ParseFloat(num, 64)
			if err != nil || !(p/scale > 0 && p/scale <= 1) {
				return fmt.Errorf("want a probability in (0, 1] or a percentage, like 0.05 or 5%%")
			}
			*field(f) = p / scale
			return nil
		},
		format: func(f Faults) string {
			switch p := *field(&f); p {
			case 0:
				return ""
			case preset:
				return name
			default:
				return name + "=" + strconv.FormatFloat(p, 'g', -1, 64)
			}
		},
	}
}

// FaultNames lists the fault names ParseFaults accepts, in order, "all"
// last.
func FaultNames() []string {
	names := make([]string, 0, len(faultKinds)+1)
	for _, k := range faultKinds {
		names = append(names, k.name)
	}
	return append(names, allName)
}

// FaultHelp describes each fault name, one line each, for a command's help.
func FaultHelp() string {
	var b strings.Builder
	for _, k := range faultKinds {
		fmt.Fprintf(&b, "  %-9s %s\n", k.name, k.help)
	}
	fmt.Fprintf(&b, "  %-9s %s\n", allName, "every fault above (all,loss=5% changes one of them)")
	return b.String()
}

// ParseFaults reads a comma-separated list of fault names, such as
// "loss,dup,reorder,delay". A name alone switches its fault on at its
// preset; name=value sets it: loss=0.05 or loss=5%, delay=2ms. "all"
// switches on every fault; with it, name=value changes one fault's level
// (all,loss=5%). The empty list is a perfect network. Unknown and repeated
// names are errors.
func ParseFaults(list string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(list) == "" {
		return f, nil
	}
	type elem struct{ name, value string }
	var elems []elem
	all := false
	for e := range strings.SplitSeq(list, ",") {
		e = strings.TrimSpace(e)
		if e == "" {
			return Faults{}, fmt.Errorf("sim: empty fault name in %q", list)
		}
		name, value, hasValue := strings.Cut(e, "=")
		switch {
		case name == allName && all:
			return Faults{}, fmt.Errorf("sim: fault %q given twice", name)
		case name == allName && hasValue:
			return Faults{}, fmt.Errorf("sim: fault %q takes no value", name)
		case name == allName:
			all = true
			continue
		case kindIndex(name) < 0:
			return Faults{}, fmt.Errorf("sim: unknown fault %q (known: %s)", name, strings.Join(FaultNames(), ", "))
		case hasValue && value == "":
			return Faults{}, fmt.Errorf("sim: fault %q: empty value after '='", name)
		}
		elems = append(elems, elem{name, value})
	}
	seen := make([]bool, len(faultKinds))
	if all {
		for _, k := range faultKinds {
			if err := k.set(&f, ""); err != nil {
				panic("sim: fault " + k.name + " has no preset")
			}
		}
	}
	for _, e := range elems {
		i := kindIndex(e.name)
		switch {
		case seen[i]:
			return Faults{}, fmt.Errorf("sim: fault %q given twice", e.name)
		case all && e.value == "":
			return Faults{}, fmt.Errorf("sim: fault %q given twice (%q includes it)", e.name, allName)
		}
		seen[i] = true
		if err := faultKinds[i].set(&f, e.value); err != nil {
			return Faults{}, fmt.Errorf("sim: fault %q: %v", e.name, err)
		}
	}
	return f, nil
}

func kindIndex(name string) int {
	for i, k := range faultKinds {
		if k.name == name {
			return i
		}
	}
	return -1
}
