package bench

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

const (
	// header is the bytes of a stack message that carry its send
	// time (8 bytes, Unix nanoseconds) and its sequence number (8 bytes).
	// Shorter messages carry neither, so latency and order go unchecked.
	header = 16

	// phaseLead is how far ahead of now the parent schedules a phase, so
	// that every member has its command (and has joined) before it starts.
	phaseLead = 250 * time.Millisecond

	// maxWarmup bounds the warm-up, a fifth of the duration, during which
	// nothing is counted.
	maxWarmup = 500 * time.Millisecond

	// drainLimit is how long after the end of the stack phase a member
	// waits for the end markers of every sender before giving up.
	drainLimit = 30 * time.Second

	// joinLimit bounds the wait for a view of every member.
	joinLimit = 30 * time.Second

	// margin is added to twice the duration to make the time limit
	// of the whole bench.
	margin = 60 * time.Second

	// rawBatch is the largest number of datagrams per WriteBatch in the raw
	// UDP phase, as in the stack's transport.
	rawBatch = 64

	// MaxMembers bounds --members.
	MaxMembers = 64
	// MaxSize bounds --size: messages of up to 16 MiB go through the
	// stack in fragments of one datagram each.
	MaxSize = 16 << 20
	// MaxRate bounds --rate: past a million messages per second a
	// sender is never paced.
	MaxRate = 1_000_000
)

// Options are the parameters of a bench, one field for each flag of
// 'conclave bench'.
type Options struct {
	Members      int
	Size         int // bytes per message
	Rate         int // messages per second per sender; 0: as fast as possible
	Duration     time.Duration
	Senders      string // one (member 0) or all
	Total        bool   // run a third phase in a group with total order
	JSON         bool   // print one line of JSON instead of the tables
	SlowReceiver time.Duration
	Suspect      time.Duration // the failure detector's timeout; 0: membership.DefaultTiming's
	CPUProfile   string        // a directory for the members' CPU profiles

	// The stack's protection: by default the secured stack (each member
	// with a Noise key of its own, admitting the others'), private.
	Insecure      bool // the plain stack instead
	ComparePlain  bool // run the plain stack too, before the secured one
	SenderAuth    bool // sign multicasts (conclave.Config.SenderAuth)
	IntegrityOnly bool // authenticate without encrypting

	// Member is the command line that starts one member process, which
	// must run RunMember on its standard input and output. Empty, it is
	// this program with the MemberCommand subcommand.
	Member []string
}

// MemberCommand is the subcommand of this program that runs RunMember: the
// parent starts each member as this program with it.
const MemberCommand = "bench-member"

// protection names the stack the stack phase measures.
func (o *Options) protection() string {
	switch {
	case o.Insecure:
		return "plain"
	case o.IntegrityOnly && o.SenderAuth:
		return "integrity-only+sender-auth"
	case o.IntegrityOnly:
		return "integrity-only"
	case o.SenderAuth:
		return "private+sender-auth"
	}
	return "private"
}

// phases is the number of phases the bench runs.
func (o *Options) phases() int {
	n := 2
	if o.Total {
		n++
	}
	if o.ComparePlain {
		n++
	}
	return n
}

// Check checks the options, naming the flag of a bad one, and makes
// CPUProfile absolute, creating the directory.
func (o *Options) Check() error {
	switch {
	case o.Members < 2 || o.Members > MaxMembers:
		return fmt.Errorf("--members %d: want 2 to %d", o.Members, MaxMembers)
	case o.Size < 1 || o.Size > MaxSize:
		return fmt.Errorf("--size %d: want 1 to %d bytes", o.Size, MaxSize)
	case o.Rate < 0 || o.Rate > MaxRate:
		return fmt.Errorf("--rate %d: want 0 (as fast as possible) to %d messages per second", o.Rate, MaxRate)
	case o.Duration < 100*time.Millisecond:
		return fmt.Errorf("--duration %v: want at least 100ms", o.Duration)
	case o.Senders != "one" && o.Senders != "all":
		return fmt.Errorf("--senders %q: want one or all", o.Senders)
	case o.Suspect < 0:
		return fmt.Errorf("--suspect %v: want a positive timeout", o.Suspect)
	case o.SlowReceiver < 0:
		return fmt.Errorf("--slow-receiver %v: want a positive delay", o.SlowReceiver)
	case o.Insecure && (o.ComparePlain || o.SenderAuth || o.IntegrityOnly):
		return errors.New("--insecure runs the plain stack alone: --compare-plain, --sender-auth and --integrity-only apply to the secured one")
	}
	if o.CPUProfile != "" {
		dir, err := filepath.Abs(o.CPUProfile)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		o.CPUProfile = dir
	}
	return nil
}

// warmup is how long a phase runs before its counting starts.
func warmup(d time.Duration) time.Duration { return min(d/5, maxWarmup) }
