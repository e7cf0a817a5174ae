package layertest

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// Tick is how far a Net's clock moves in one step: every datagram in
// flight arrives within the step after the one it was sent in.
const Tick = time.Millisecond

// Net is a group of members, one stack each, on a virtual network that
// the test drives: the clock moves only in Run, a datagram takes one step
// to arrive, and Lose decides which datagrams the network loses. Every
// member is run and collected in rank order, so a test replays exactly.
//
// It is the harness for the layers' functional tests: build a group with
// the layers under test, cast and send, lose what the case says, run, and
// read what each member delivered and counted. For random faults, set
// Faults: loss, duplication and delay drawn from a seeded source, and the
// datagrams of each step then arrive in a shuffled order.
type Net struct {
	T       testing.TB
	Members []*layers.Stack
	Now     time.Duration
	// Steps is the number of steps Run has taken.
	Steps int
	// Lose, when set, is asked about each datagram for each destination;
	// true loses it.
	Lose func(from, to int, data []byte) bool
	// Lost counts the datagrams lost, per destination.
	Lost []int
	// Faults, when its Rand is set, draws random faults per datagram
	// and destination, when the datagram is sent.
	Faults Faults
	// Dead members neither run nor send nor receive.
	Dead []bool

	flight []flight
	casts  [][]string // per member: multicasts delivered, as "from:data"
	sends  [][]string // per member: messages to it delivered, as "from:data"
}

type flight struct {
	from, to int
	due      int // the step it arrives in, at the earliest
	data     []byte
}

// Faults are a network's random faults.
type Faults struct {
	Rand *rand.Rand
	// Loss and Dup are the chances that a datagram to one destination is
	// lost, or arrives twice.
	Loss, Dup float64
	// MaxDelay is the most steps a datagram may arrive late, each copy
	// drawn apart, so each destination sees its own reordering.
	MaxDelay int
}

// NewNet builds a group of n members with the named layers (nil: the
// reliable stack) and options, in view ViewID of group Group.
func NewNet(t testing.TB, n int, names []string, opts compose.Options) *Net {
	t.Helper()
	if names == nil {
		names = compose.Reliable
	}
	nw := &Net{T: t, Lost: make([]int, n), Dead: make([]bool, n), casts: make([][]string, n), sends: make([][]string, n)}
	for r := range n {
		s, err := compose.Build(layers.Config{View: layers.View{Group: Group, ID: ViewID, N: n, Rank: r}, Seed: 1}, names, opts)
		if err != nil {
			t.Fatal(err)
		}
		nw.Members = append(nw.Members, s)
	}
	return nw
}

// Cast multicasts each of data from member from, in order.
func (nw *Net) Cast(from int, data ...string) {
	for _, d := range data {
		nw.Members[from].Cast([]byte(d))
	}
	nw.collect(from)
}

// CastBytes multicasts one message of raw bytes from member from.
func (nw *Net) CastBytes(from int, data []byte) {
	nw.Members[from].Cast(data)
	nw.collect(from)
}

// Send sends each of data from member from to member to, in order.
func (nw *Net) Send(from, to int, data ...string) {
	for _, d := range data {
		nw.Members[from].Send(to, []byte(d))
	}
	nw.collect(from)
}

// SendBytes sends one message of raw bytes from member from to member to.
func (nw *Net) SendBytes(from, to int, data []byte) {
	nw.Members[from].Send(to, data)
	nw.collect(from)
}

// Run moves the clock on by d, one Tick at a time (see Step).
func (nw *Net) Run(d time.Duration) {
	for end := nw.Now + d; nw.Now < end; {
		nw.Step()
	}
}

// Step moves the clock on by one Tick: every live member ticks, then the
// datagrams due arrive (in a shuffled order under Faults); what members
// send in answer arrives in the next step.
func (nw *Net) Step() {
	nw.Steps++
	nw.Now += Tick
	for r, s := range nw.Members {
		if !nw.Dead[r] {
			s.Tick(nw.Now)
			nw.collect(r)
		}
	}
	var arriving []flight
	keep := nw.flight[:0]
	for _, f := range nw.flight {
		if f.due <= nw.Steps {
			arriving = append(arriving, f)
		} else {
			keep = append(keep, f)
		}
	}
	nw.flight = keep
	if rng := nw.Faults.Rand; rng != nil {
		rng.Shuffle(len(arriving), func(i, j int) { arriving[i], arriving[j] = arriving[j], arriving[i] })
	}
	for _, f := range arriving {
		if nw.Dead[f.from] || nw.Dead[f.to] {
			continue
		}
		if nw.Lose != nil && nw.Lose(f.from, f.to, f.data) {
			nw.Lost[f.to]++
			continue
		}
		nw.Members[f.to].Receive(f.data)
		nw.collect(f.to)
	}
}

// Collect takes member r's output after the test called its stack
// directly (EndView, a Flush method).
func (nw *Net) Collect(r int) { nw.collect(r) }

// collect flushes member r and takes its output: deliveries are recorded,
// datagrams go into flight, one copy per destination.
func (nw *Net) collect(r int) {
	s := nw.Members[r]
	s.Flush()
	rd := s.Ready()
	for _, d := range rd.Deliveries {
		rec := fmt.Sprintf("%d:%s", d.From, d.Data)
		if d.Multicast() {
			nw.casts[r] = append(nw.casts[r], rec)
		} else {
			nw.sends[r] = append(nw.sends[r], rec)
		}
	}
	for _, p := range rd.Packets {
		for to := range nw.Members {
			if to != r && (p.To == layers.AllPeers || p.To == to) {
				nw.send(r, to, p.Data)
			}
		}
	}
	s.Advance()
}

// send puts copies of a datagram in flight, as Faults draws them.
func (nw *Net) send(from, to int, data []byte) {
	f := &nw.Faults
	copies, delay := 1, 0
	if f.Rand != nil {
		if f.Rand.Float64() < f.Loss {
			nw.Lost[to]++
			return
		}
		if f.Rand.Float64() < f.Dup {
			copies = 2
		}
	}
	for range copies {
		if f.Rand != nil && f.MaxDelay > 0 {
			delay = f.Rand.IntN(f.MaxDelay + 1)
		}
		nw.flight = append(nw.flight, flight{from: from, to: to, due: nw.Steps + delay, data: bytes.Clone(data)})
	}
}

// Casts is what member r delivered of multicasts, in order, each as
// "from:data".
func (nw *Net) Casts(r int) []string { return nw.casts[r] }

// Sends is what member r delivered of messages sent to it, in order, each
// as "from:data".
func (nw *Net) Sends(r int) []string { return nw.sends[r] }

// Counter is member r's counter name of layer.
func (nw *Net) Counter(r int, layer, name string) uint64 { return nw.Members[r].Counter(layer, name) }

// LoseOnce returns a Lose that loses the first datagram from from to to
// whose bytes contain mark (a message's body travels as it is), and no
// other.
func LoseOnce(from, to int, mark string) func(int, int, []byte) bool {
	done := false
	return func(f, t int, data []byte) bool {
		if done || f != from || t != to || !bytes.Contains(data, []byte(mark)) {
			return false
		}
		done = true
		return true
	}
}

// LoseAll returns a Lose that loses every datagram from from to to whose
// bytes contain mark.
func LoseAll(from, to int, mark string) func(int, int, []byte) bool {
	return func(f, t int, data []byte) bool { return f == from && t == to && bytes.Contains(data, []byte(mark)) }
}
