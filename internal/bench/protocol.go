package bench

import (
	"net/netip"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/transport"
)

// The parent's lines to a member and the member's to the parent. Each is
// one JSON value on a line.

// command is a line from the parent to a member.
type command struct {
	Cmd   string `json:"cmd"` // setup, raw, join-plain, plain, join, stack, join-total or total
	Setup *setup `json:"setup,omitempty"`
	// Start is when a raw or stack phase begins, in Unix nanoseconds.
	Start int64 `json:"start,omitempty"`
}

// The commands.
const (
	cmdSetup     = "setup"
	cmdRaw       = "raw"
	cmdJoin      = "join"
	cmdStack     = "stack"
	cmdJoinTotal = "join-total"
	cmdTotal     = "total"
	cmdJoinPlain = "join-plain"
	cmdPlain     = "plain"
)

// setup is the parameters of the bench and every member's addresses, by
// rank; the first command a member gets.
type setup struct {
	Rank  int              `json:"rank"`
	Group string           `json:"group"`
	Raw   []netip.AddrPort `json:"raw"`
	Stack []netip.AddrPort `json:"stack"`
	Total []netip.AddrPort `json:"total,omitempty"` // with --total
	Plain []netip.AddrPort `json:"plain,omitempty"` // with --compare-plain
	// Keys are the members' Noise public keys, by rank: each admits
	// them all. Empty with --insecure.
	Keys          []string      `json:"keys,omitempty"`
	SenderAuth    bool          `json:"sender_auth,omitempty"`
	IntegrityOnly bool          `json:"integrity_only,omitempty"`
	Size          int           `json:"size"`
	Rate          int           `json:"rate"`     // per sender per second; 0: unpaced
	Datagram      int           `json:"datagram"` // the raw phase's largest datagram
	Duration      time.Duration `json:"duration"`
	AllSend       bool          `json:"all_send"`
	SlowReceiver  time.Duration `json:"slow_receiver"`
	Suspect       time.Duration `json:"suspect,omitempty"`
	CPUProfile    string        `json:"cpuprofile"`
}

// sends says whether rank r sends.
func (s *setup) sends(r int) bool { return s.AllSend || r == 0 }

func (s *setup) senders() int {
	if s.AllSend {
		return len(s.Stack)
	}
	return 1
}

// slow says whether this member is the slow receiver.
func (s *setup) slow() bool { return s.SlowReceiver > 0 && s.Rank == len(s.Stack)-1 }

// A member's lines to the parent.

// hello is a member's first line: the addresses of its sockets.
type hello struct {
	Raw   netip.AddrPort `json:"raw"`
	Stack netip.AddrPort `json:"stack"`
	Total netip.AddrPort `json:"total"` // for the total order phase
	Plain netip.AddrPort `json:"plain"` // for the plain stack phase
	Key   string         `json:"key"`   // the member's Noise public key
}

// joined answers join and join-total.
type joined struct {
	View string `json:"view"` // the view's id
}

// rawReport answers raw.
type rawReport struct {
	// Received and Sent count messages in the window, a message being a
	// message's datagrams to one member: when a message takes k
	// datagrams, datagrams ÷ k.
	Received uint64    `json:"received"`
	Sent     uint64    `json:"sent"`
	Seconds  float64   `json:"seconds"` // the window
	UDP      udpCounts `json:"udp"`     // the whole phase
	// Latency is the one-way latency of datagrams from other members, in
	// nanoseconds, with --rate only.
	Latency *benchutil.Histogram `json:"latency,omitempty"`
}

// stackReport answers stack and total.
type stackReport struct {
	Delivered       uint64               `json:"delivered"` // in the window
	Sent            uint64               `json:"sent"`      // multicasts, in the window
	Seconds         float64              `json:"seconds"`
	Latency         *benchutil.Histogram `json:"latency"` // nanoseconds
	Retransmissions uint64               `json:"retransmissions"`
	Drops           uint64               `json:"drops"`
	DropReasons     map[string]uint64    `json:"drop_reasons,omitempty"` // layer.drop.reason
	ViewChanges     uint64               `json:"view_changes"`           // after the full view
	UDP             udpCounts            `json:"udp"`                    // the whole phase
	MaxRSSKB        uint64               `json:"max_rss_kb"`
	// Order is a hash of the order of every delivery of the phase,
	// warm-up and drain included: with total order it is the same at
	// every member.
	Order uint64 `json:"order"`
}

// Run is the parent: it starts the members, runs the phases and prints
// udpCounts is a member's transport statistics for one phase: datagrams and
// system calls, so datagrams per call is the batching the OS saw.
type udpCounts struct {
	Sent         uint64 `json:"sent"`
	WriteBatches uint64 `json:"write_batches"`
	Received     uint64 `json:"received"`
	ReadBatches  uint64 `json:"read_batches"`
}

func udpStats(c *transport.UDPConn) udpCounts {
	s := c.Stats()
	return udpCounts{Sent: s.Sent, WriteBatches: s.WriteBatches, Received: s.Received, ReadBatches: s.ReadBatches}
}
