package sim

import (
	"fmt"

	"github.com/conclave-go/conclave/layers"
)

// MaxViolations bounds the violations a Checker describes; it still counts
// every one.
const MaxViolations = 20

// Checker holds a group's deliveries to the reliable FIFO guarantees, one
// delivery at a time, against what the workload sent:
//
//   - every multicast is delivered exactly once to every member, the sender
//     included, in the sender's order;
//   - every point-to-point message exactly once, in order, to its
//     destination and nobody else;
//   - each with the bytes that were sent, the real sender as From and the
//     right delivery type;
//   - nothing that was never sent (or not yet sent) is delivered.
//
// Finish adds the liveness check: what is still undelivered is a violation.
// Each check costs a hash of the delivered bytes and a few slice lookups.
// A Checker is not safe for concurrent use.
type Checker struct {
	n        int
	casts    []stream   // by sender
	sends    []stream   // by from*n + to
	castRecv []progress // by receiver*n + sender
	sendRecv []progress // by from*n + to; the receiver is to

	outstanding int // deliveries expected and not yet seen
	count       int
	violations  []string
}

// stream is what a sender sent on one stream, by index.
type stream struct {
	msgs []record
}

type record struct {
	size int
	sum  uint64
}

// progress is what one receiver delivered of one stream.
type progress struct {
	next int    // one past the highest index delivered
	got  []bool // by index
}

// NewChecker returns a checker for a group of n members.
func NewChecker(n int) *Checker {
	return &Checker{
		n:        n,
		casts:    make([]stream, n),
		sends:    make([]stream, n*n),
		castRecv: make([]progress, n*n),
		sendRecv: make([]progress, n*n),
	}
}

// Sent records that message id went out with the given payload, which must
// be the next message of its stream.
func (c *Checker) Sent(id ID, payload []byte) {
	st, receivers := c.stream(id)
	if st == nil || id.Index != len(st.msgs) {
		panic(fmt.Sprintf("sim: checker: %v sent out of sequence", id))
	}
	st.msgs = append(st.msgs, record{size: len(payload), sum: hash(payload)})
	c.outstanding += receivers
}

// stream returns id's stream and how many members must deliver each of its
// messages, or nil when id names members outside the group.
func (c *Checker) stream(id ID) (*stream, int) {
	if id.From < 0 || id.From >= c.n || id.To < 0 || id.To >= c.n {
		return nil, 0
	}
	switch id.Kind {
	case KindCast:
		if id.To != 0 {
			return nil, 0
		}
		return &c.casts[id.From], c.n
	case KindSend:
		return &c.sends[id.From*c.n+id.To], 1
	}
	return nil, 0
}

// Deliver checks one delivery to member receiver.
func (c *Checker) Deliver(receiver int, d layers.Delivery) {
	id, ok := ParsePayload(d.Data)
	if !ok {
		c.violate("member %d: delivered a %v of %d bytes from member %d that nobody sent", receiver, d.Type, len(d.Data), d.From)
		return
	}
	st, _ := c.stream(id)
	if st == nil || id.Index >= len(st.msgs) {
		c.violate("member %d: delivered %v, which was never sent", receiver, id)
		return
	}
	if d.From != id.From {
		c.violate("member %d: delivered %v as from member %d (forged sender)", receiver, id, d.From)
	}
	if want := deliveryType(id.Kind); d.Type != want {
		c.violate("member %d: delivered %v as a %v, not a %v", receiver, id, d.Type, want)
	}
	if id.Kind == KindSend && receiver != id.To {
		c.violate("member %d: delivered %v, meant for member %d only", receiver, id, id.To)
		return
	}
	if rec := st.msgs[id.Index]; len(d.Data) != rec.size || hash(d.Data) != rec.sum {
		c.violate("member %d: delivered %v with altered bytes (%d bytes, %d sent)", receiver, id, len(d.Data), rec.size)
		return
	}
	p := c.progress(receiver, id)
	if len(p.got) <= id.Index {
		p.got = append(p.got, make([]bool, len(st.msgs)-len(p.got))...)
	}
	if p.got[id.Index] {
		c.violate("member %d: delivered %v twice", receiver, id)
		return
	}
	p.got[id.Index] = true
	c.outstanding--
	switch {
	case id.Index > p.next:
		c.violate("member %d: delivered %v before #%d (FIFO gap)", receiver, id, p.next)
	case id.Index < p.next:
		c.violate("member %d: delivered %v after #%d (FIFO order)", receiver, id, p.next-1)
	}
	p.next = max(p.next, id.Index+1)
}

func (c *Checker) progress(receiver int, id ID) *progress {
	if id.Kind == KindCast {
		return &c.castRecv[receiver*c.n+id.From]
	}
	return &c.sendRecv[id.From*c.n+id.To]
}

func deliveryType(k Kind) layers.Type {
	if k == KindCast {
		return layers.ECast
	}
	return layers.ESend
}

// Complete reports whether every message sent so far has been delivered
// everywhere it must be.
func (c *Checker) Complete() bool { return c.outstanding == 0 }

// Outstanding is the number of deliveries still expected.
func (c *Checker) Outstanding() int { return c.outstanding }

// Stall is one stream a receiver has not fully delivered.
type Stall struct {
	Receiver int
	First    ID  // the first message it has not delivered
	Missing  int // how many it has not delivered
	Sent     int // how many the stream has
}

// Stalls lists, in a fixed order, the streams some member has not fully
// delivered.
func (c *Checker) Stalls() []Stall {
	var out []Stall
	check := func(receiver int, st *stream, p *progress, id ID) {
		missing, first := 0, -1
		for i := range st.msgs {
			if i >= len(p.got) || !p.got[i] {
				missing++
				if first < 0 {
					first = i
				}
			}
		}
		if missing > 0 {
			id.Index = first
			out = append(out, Stall{Receiver: receiver, First: id, Missing: missing, Sent: len(st.msgs)})
		}
	}
	for r := range c.n {
		for s := range c.n {
			check(r, &c.casts[s], &c.castRecv[r*c.n+s], ID{Kind: KindCast, From: s})
		}
		for s := range c.n {
			check(r, &c.sends[s*c.n+r], &c.sendRecv[s*c.n+r], ID{Kind: KindSend, From: s, To: r})
		}
	}
	return out
}

// Finish reports every message still undelivered as a violation: call it
// at the deadline. explain, if not nil, adds to each stalled stream's
// violation what the stacks know of it.
func (c *Checker) Finish(explain func(Stall) string) {
	for _, s := range c.Stalls() {
		why := ""
		if explain != nil {
			if why = explain(s); why != "" {
				why = " (" + why + ")"
			}
		}
		c.violate("member %d: %d of %d %s undelivered at the deadline, first %v%s", s.Receiver, s.Missing, s.Sent, streamName(s.First), s.First, why)
	}
}

func streamName(id ID) string {
	if id.Kind == KindSend {
		return fmt.Sprintf("sends %d→%d", id.From, id.To)
	}
	return fmt.Sprintf("casts from %d", id.From)
}

func (c *Checker) violate(format string, args ...any) {
	c.count++
	if len(c.violations) < MaxViolations {
		c.violations = append(c.violations, fmt.Sprintf(format, args...))
	}
}

// Count is the number of violations found.
func (c *Checker) Count() int { return c.count }

// Violations describes the first MaxViolations violations found, and how
// many more there were.
func (c *Checker) Violations() []string {
	out := append([]string(nil), c.violations...)
	if more := c.count - len(c.violations); more > 0 {
		out = append(out, fmt.Sprintf("… and %d more violations", more))
	}
	return out
}

// hash is 64-bit FNV-1a.
func hash(b []byte) uint64 {
	h := uint64(fnvOffset)
	for _, x := range b {
		h = (h ^ uint64(x)) * fnvPrime
	}
	return h
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)
