package sim

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// Faults says what goes wrong during a run. The zero value is a perfect
// network. Faults stay on for the whole run, after the workload too.
type Faults struct {
	Loss      float64       // probability a datagram is lost
	Duplicate float64       // probability a datagram arrives twice
	Reorder   float64       // probability a datagram is held back so later ones overtake it
	Delay     time.Duration // each datagram is delayed uniformly in [0, Delay]
}

// Network returns the network faults for the in-memory network.
func (f Faults) Network() transport.Faults {
	return transport.Faults{Loss: f.Loss, Duplicate: f.Duplicate, Reorder: f.Reorder, Delay: f.Delay}
}

// String gives back the fault list ParseFaults reads as f: each fault that
// is on, by its bare name at its preset and as name=value otherwise; ""
// when nothing is.
func (f Faults) String() string {
	var parts []string
	for _, k := range faultKinds {
		if s := k.format(f); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ",")
}

// faultKind is one name ParseFaults accepts. Adding a fault is adding an
// entry to faultKinds (and a field to Faults).
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

// FaultNames lists the fault names ParseFaults accepts, in order.
func FaultNames() []string {
	names := make([]string, len(faultKinds))
	for i, k := range faultKinds {
		names[i] = k.name
	}
	return names
}

// FaultHelp describes each fault name, one line each, for a command's help.
func FaultHelp() string {
	var b strings.Builder
	for _, k := range faultKinds {
		fmt.Fprintf(&b, "  %-9s %s\n", k.name, k.help)
	}
	return b.String()
}

// ParseFaults reads a comma-separated list of fault names, such as
// "loss,dup,reorder,delay". A name alone switches its fault on at its
// preset; name=value sets it: loss=0.05 or loss=5%, delay=2ms. The empty
// list is a perfect network. Unknown and repeated names are errors.
func ParseFaults(list string) (Faults, error) {
	var f Faults
	if strings.TrimSpace(list) == "" {
		return f, nil
	}
	seen := make([]bool, len(faultKinds))
	for elem := range strings.SplitSeq(list, ",") {
		elem = strings.TrimSpace(elem)
		name, value, hasValue := strings.Cut(elem, "=")
		if elem == "" {
			return Faults{}, fmt.Errorf("sim: empty fault name in %q", list)
		}
		i := kindIndex(name)
		if i < 0 {
			return Faults{}, fmt.Errorf("sim: unknown fault %q (known: %s)", name, strings.Join(FaultNames(), ", "))
		}
		if seen[i] {
			return Faults{}, fmt.Errorf("sim: fault %q given twice", name)
		}
		seen[i] = true
		if hasValue && value == "" {
			return Faults{}, fmt.Errorf("sim: fault %q: empty value after '='", name)
		}
		if err := faultKinds[i].set(&f, value); err != nil {
			return Faults{}, fmt.Errorf("sim: fault %q: %v", name, err)
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
