package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/conclave-go/conclave/membership"
)

// MaxViolations bounds the violations a Checker describes; it still counts
// every one.
const MaxViolations = 20

// Checker holds a group's event streams to the guarantees of virtual
// synchrony, one event at a time, against what the workload sent. Members
// are processes, numbered by the simulator; a process that restarts is a new
// process with a new endpoint.
//
// As each event arrives it checks:
//
//   - a delivery: the bytes are a message that was sent, from its real
//     sender, of the right type (cast or send), a send to its destination
//     only; per receiver and stream (a sender's casts, a sender's sends to
//     one destination) indices strictly increase, with no gap within one
//     view, and nothing is delivered twice; the receiver is in a view and
//     the sender is a member of it; a member delivers its own cast, when it
//     was sent outside a view change, in the view it was sent in;
//   - a view: the member is in it; a view id names one member list at every
//     member that installs it; each member installs views in strictly
//     increasing id order; every member listed agreed to the view first
//     (Consent), so that a crashed or departed process can only be listed
//     in views it agreed to before it went;
//   - with participants (Participant), the view's decision: the member
//     installed the view with one, the same as every other member that
//     installs it, and every member of the view confirmed it before the
//     first installed it;
//   - nothing follows a member's Left, and only a member that called
//     Leave leaves.
//
// Finish adds what needs the whole run: in each view, each receiver
// delivered a prefix of what each sender sent in that view (FIFO); members
// that install the same next view after V delivered the same set of casts
// in V (virtual synchrony), and in the same order under total order; a live
// member that never left delivered each of its own casts; and every
// delivery the simulator said it expects (Expect) happened.
//
// A Checker is not safe for concurrent use.
type Checker struct {
	total      bool
	procs      []*procCheck
	byEndpoint map[membership.Endpoint]int
	streams    map[ID]*stream // by the stream's first ID (Index 0)
	views      map[membership.ViewID]*viewRecord
	viewList   []*viewRecord // in the order first installed

	expected    []expectation
	expIndex    map[expectKey]int
	outstanding int

	// With participants: the epochs installed, by digest, and the
	// holding violations reported (each once).
	digests   map[[32]byte]membership.ViewID
	derived   map[[32]byte]string // attackers' epochs, by who derived them
	held      map[heldKey]bool
	outsiders []outsider

	// With sender authentication (SenderAuth): the multicasts delivered
	// that their claimed sender did not multicast at that index.
	senderAuth bool
	forged     int

	count      int
	violations []string
}

// procCheck is what the checker knows of one process.
type procCheck struct {
	self    membership.Endpoint
	consent map[membership.ViewID][]membership.Endpoint
	cur     *install // the view it is in; nil before the first
	pending []ID     // sent during a view change, waiting for the next view
	recv    map[ID]*progress
	leaving bool // called Leave
	left    bool // Left
	crashed bool
	// decisions is its participant's record, with a participant.
	decisions Decisions
}

// install is one member's stay in one view.
type install struct {
	proc int
	view *viewRecord
	next *viewRecord // the view the member installed next; nil if none
	got  []ID        // what it delivered in the view, in order
	// bad lists the streams whose FIFO violations in the view were
	// reported already.
	bad []ID
}

func (in *install) reported(stream ID) { in.bad = append(in.bad, stream) }

type viewRecord struct {
	id      membership.ViewID
	members []membership.Endpoint
	// out lists by stream the indices that went out in the view: sent in
	// it, or sent during the view change before it.
	out      map[ID][]int
	installs []*install
	// With participants: the fingerprint of the decision the first
	// member to install the view installed it with, and that member.
	decided  bool
	decision [32]byte
	decider  int
}

// stream is what a sender sent on one stream, by index.
type stream struct {
	msgs []record
}

type record struct {
	size int
	sum  uint64
	// view is the view a cast was sent in, for a cast sent outside a view
	// change.
	view    membership.ViewID
	inView  bool
	ownDone bool // the sender delivered it (casts)
}

// progress is what one receiver delivered of one stream.
type progress struct {
	got  []bool // by index
	last int    // the highest index delivered; -1 before any
	in   *install
}

type expectKey struct {
	id       ID
	receiver int
}

type expectation struct {
	expectKey
	done bool
}

// NewChecker returns a checker. With total set the group runs a total order
// stack and Finish checks that too.
func NewChecker(total bool) *Checker {
	return &Checker{
		total:      total,
		byEndpoint: make(map[membership.Endpoint]int),
		streams:    make(map[ID]*stream),
		views:      make(map[membership.ViewID]*viewRecord),
		expIndex:   make(map[expectKey]int),
		digests:    make(map[[32]byte]membership.ViewID),
		held:       make(map[heldKey]bool),
	}
}

// SenderAuth tells the Checker that the group authenticates the sender
// of every multicast: a multicast delivered that its claimed sender did
// not multicast at that index, with those bytes, once, is then reported
// as a forgery that sender authentication let through, and counted
// (Forged).
func (c *Checker) SenderAuth() { c.senderAuth = true }

// Forged is how many multicasts were delivered, with sender
// authentication, that their claimed sender did not multicast at that
// index.
func (c *Checker) Forged() int { return c.forged }

// Start records that process p starts as endpoint self. Processes are
// numbered from 0 in the order they start; p must be the next number.
func (c *Checker) Start(p int, self membership.Endpoint) {
	if p != len(c.procs) {
		panic(fmt.Sprintf("sim: checker: process %d started out of order", p))
	}
	if _, dup := c.byEndpoint[self]; dup {
		panic(fmt.Sprintf("sim: checker: endpoint %v started twice", self))
	}
	c.byEndpoint[self] = p
	c.procs = append(c.procs, &procCheck{
		self:    self,
		consent: make(map[membership.ViewID][]membership.Endpoint),
		recv:    make(map[ID]*progress),
	})
}

// Consent records that process p agreed to be in v.
func (c *Checker) Consent(p int, v membership.View) {
	pc := c.procs[p]
	if pc.left || pc.crashed {
		c.violate("member %d: agreed to %s after it %s", p, c.viewString(v.ID, v.Members), pc.gone())
		return
	}
	pc.consent[v.ID] = slices.Clone(v.Members)
}

// Leaving records that process p called Leave.
func (c *Checker) Leaving(p int) { c.procs[p].leaving = true }

// Crashed records that process p crashed: nothing more comes from it.
func (c *Checker) Crashed(p int) { c.procs[p].crashed = true }

func (pc *procCheck) gone() string {
	if pc.crashed {
		return "crashed"
	}
	return "left"
}

// Sent records that process p sent message id with the given payload; id
// must be the next message of its stream. blocked says p was in a view
// change, so that the message goes out in p's next view.
func (c *Checker) Sent(p int, id ID, payload []byte, blocked bool) {
	key := streamKey(id)
	st := c.streams[key]
	if st == nil {
		st = &stream{}
		c.streams[key] = st
	}
	if id.From != p || id.Index != len(st.msgs) || p >= len(c.procs) || id.To >= len(c.procs) {
		panic(fmt.Sprintf("sim: checker: %v sent out of sequence by %d", id, p))
	}
	rec := record{size: len(payload), sum: hash(payload)}
	pc := c.procs[p]
	if !blocked && pc.cur != nil {
		rec.view, rec.inView = pc.cur.view.id, true
	}
	st.msgs = append(st.msgs, rec)
	switch {
	case blocked:
		pc.pending = append(pc.pending, id)
	case pc.cur != nil:
		c.wentOut(pc.cur.view, id)
	}
}

// wentOut records that id went out in view v.
func (c *Checker) wentOut(v *viewRecord, id ID) {
	if id.Kind == KindSend && !slices.Contains(v.members, c.procs[id.To].self) {
		return // not sent at all: the destination is not in the view
	}
	if v.out == nil {
		v.out = make(map[ID][]int)
	}
	key := streamKey(id)
	v.out[key] = append(v.out[key], id.Index)
}

func streamKey(id ID) ID { id.Index = 0; return id }

// Expect records that receiver must deliver id before Finish.
func (c *Checker) Expect(id ID, receiver int) {
	k := expectKey{id, receiver}
	if _, dup := c.expIndex[k]; dup {
		return
	}
	done := false
	if pr := c.procs[receiver].recv[streamKey(id)]; pr != nil && id.Index < len(pr.got) {
		done = pr.got[id.Index]
	}
	c.expIndex[k] = len(c.expected)
	c.expected = append(c.expected, expectation{expectKey: k, done: done})
	if !done {
		c.outstanding++
	}
}

// Event checks one event of process p.
func (c *Checker) Event(p int, ev *membership.Event) {
	pc := c.procs[p]
	if pc.left || pc.crashed {
		c.violate("member %d: %v event after it %s", p, ev.Kind, pc.gone())
		return
	}
	switch ev.Kind {
	case membership.Message:
		c.deliver(p, ev)
	case membership.ViewChange:
		c.install(p, ev.View)
	case membership.Left:
		pc.left = true
		pc.pending = nil
		if !pc.leaving {
			c.violate("member %d: left the group without calling Leave", p)
		}
	}
}

func (c *Checker) install(p int, v membership.View) {
	pc := c.procs[p]
	vs := c.viewString(v.ID, v.Members)
	if !slices.Contains(v.Members, pc.self) {
		c.violate("member %d: installed %s, which it is not in", p, vs)
	}
	rec := c.views[v.ID]
	if rec == nil {
		rec = &viewRecord{id: v.ID, members: slices.Clone(v.Members)}
		c.views[v.ID] = rec
		c.viewList = append(c.viewList, rec)
		c.checkConsent(p, rec)
	} else if !slices.Equal(rec.members, v.Members) {
		c.violate("member %d: installed %s, which member %d installed as %s", p, vs, rec.installs[0].proc, c.viewString(rec.id, rec.members))
	}
	if pc.cur != nil {
		if prev := pc.cur.view.id; v.ID.Compare(prev) <= 0 {
			c.violate("member %d: installed %s after %s (view ids must increase)", p, vs, c.viewString(prev, pc.cur.view.members))
		}
		pc.cur.next = rec
	}
	c.checkDecision(p, rec)
	ins := &install{proc: p, view: rec}
	rec.installs = append(rec.installs, ins)
	pc.cur = ins
	if rec.decided {
		c.checkHeld(rec)
	}
	for _, id := range pc.pending {
		c.wentOut(rec, id)
	}
	pc.pending = pc.pending[:0]
}

// checkConsent checks that every member of a newly installed view agreed to
// it.
func (c *Checker) checkConsent(p int, rec *viewRecord) {
	for _, e := range rec.members {
		q, ok := c.byEndpoint[e]
		if !ok {
			c.violate("member %d: installed %s, which lists %v, an endpoint that never existed", p, c.viewString(rec.id, rec.members), e)
			continue
		}
		agreed, ok := c.procs[q].consent[rec.id]
		switch {
		case !ok:
			c.violate("member %d: installed %s, but member %d never agreed to it%s", p, c.viewString(rec.id, rec.members), q, c.procs[q].status())
		case !slices.Equal(agreed, rec.members):
			c.violate("member %d: installed %s, but member %d agreed to it as %s", p, c.viewString(rec.id, rec.members), q, c.viewString(rec.id, agreed))
		}
	}
}

func (pc *procCheck) status() string {
	switch {
	case pc.crashed:
		return " (it had crashed)"
	case pc.left:
		return " (it had left)"
	}
	return ""
}

func (c *Checker) deliver(q int, ev *membership.Event) {
	pc := c.procs[q]
	// forged reports a delivery that is not what its claimed sender sent
	// at that index.
	forged := func(format string, args ...any) {
		if c.senderAuth && ev.Multicast {
			c.forged++
			format = "sender authentication: " + format
		}
		c.violate(format, args...)
	}
	id, ok := ParsePayload(ev.Data)
	if !ok {
		forged("member %d: delivered a %s of %d bytes from %s that nobody sent", q, castName(ev.Multicast), len(ev.Data), c.name(ev.From))
		return
	}
	st := c.streams[streamKey(id)]
	if st == nil || id.Index >= len(st.msgs) {
		forged("member %d: delivered %v, which was never sent", q, id)
		return
	}
	if s, ok := c.byEndpoint[ev.From]; !ok || s != id.From {
		forged("member %d: delivered %v as from %s (forged sender)", q, id, c.name(ev.From))
		return
	}
	if want := id.Kind == KindCast; ev.Multicast != want {
		forged("member %d: delivered %v as a %s, not a %s", q, id, castName(ev.Multicast), castName(want))
	}
	if id.Kind == KindSend && q != id.To {
		c.violate("member %d: delivered %v, meant for member %d only", q, id, id.To)
		return
	}
	rec := &st.msgs[id.Index]
	if len(ev.Data) != rec.size || hash(ev.Data) != rec.sum {
		forged("member %d: delivered %v with altered bytes (%d bytes, %d sent)", q, id, len(ev.Data), rec.size)
		return
	}
	in := pc.cur
	if in == nil {
		c.violate("member %d: delivered %v before installing any view", q, id)
		return
	}
	if !slices.Contains(in.view.members, ev.From) {
		c.violate("member %d: delivered %v from %s, which is not in its %s", q, id, c.name(ev.From), c.viewString(in.view.id, in.view.members))
	}
	key := streamKey(id)
	pr := pc.recv[key]
	if pr == nil {
		pr = &progress{last: -1}
		pc.recv[key] = pr
	}
	if len(pr.got) <= id.Index {
		pr.got = append(pr.got, make([]bool, len(st.msgs)-len(pr.got))...)
	}
	if pr.got[id.Index] {
		forged("member %d: delivered %v twice", q, id)
		return
	}
	pr.got[id.Index] = true
	switch {
	case id.Index < pr.last:
		c.violate("member %d: delivered %v after #%d (FIFO order)", q, id, pr.last)
	case pr.in == in && id.Index > pr.last+1:
		c.gap(q, in, id, pr.last+1)
	case pr.in != in:
		// The first of the stream in this view must be the first that
		// went out in it.
		if out := in.view.out[key]; len(out) > 0 && out[0] != id.Index {
			c.gap(q, in, id, out[0])
			in.reported(key)
		}
	}
	pr.last, pr.in = max(pr.last, id.Index), in
	in.got = append(in.got, id)
	if id.Kind == KindCast && id.From == q {
		rec.ownDone = true
		if rec.inView && rec.view != in.view.id {
			c.violate("member %d: delivered its own %v in %s, but sent it in view %s", q, id, c.viewString(in.view.id, in.view.members), c.viewIDString(rec.view))
		}
	}
	if i, ok := c.expIndex[expectKey{id, q}]; ok && !c.expected[i].done {
		c.expected[i].done = true
		c.outstanding--
	}
}

// gap reports that q delivered id in install in where due was due. With
// sender authentication too: an insider's copy that took a message's
// place at q is refused there and the real one fetched again, so q
// misses nothing.
func (c *Checker) gap(q int, in *install, id ID, due int) {
	c.violate("member %d: delivered %v before #%d (FIFO gap in %s)", q, id, due, c.viewString(in.view.id, in.view.members))
}

func castName(cast bool) string {
	if cast {
		return "Cast"
	}
	return "Send"
}

// Complete reports whether every expected delivery has happened.
func (c *Checker) Complete() bool { return c.outstanding == 0 }

// Outstanding is the number of expected deliveries still missing.
func (c *Checker) Outstanding() int { return c.outstanding }

// Stall is one stream a receiver has not delivered all it must of.
type Stall struct {
	Receiver int
	First    ID  // the first message it has not delivered
	Missing  int // how many it has not delivered
	Expected int // how many of the stream it must deliver
}

// Stalls lists, by receiver and stream, what expected deliveries are
// missing.
func (c *Checker) Stalls() []Stall {
	type key struct {
		receiver int
		stream   ID
	}
	idx := make(map[key]int)
	var out []Stall
	for _, e := range c.expected {
		k := key{e.receiver, streamKey(e.id)}
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, Stall{Receiver: e.receiver, First: ID{Index: -1}})
		}
		s := &out[i]
		s.Expected++
		if !e.done {
			s.Missing++
			if s.First.Index < 0 || e.id.Index < s.First.Index {
				s.First = e.id
			}
		}
	}
	out = slices.DeleteFunc(out, func(s Stall) bool { return s.Missing == 0 })
	slices.SortFunc(out, func(a, b Stall) int {
		return cmp.Or(cmp.Compare(a.Receiver, b.Receiver), compareID(a.First, b.First))
	})
	return out
}

// Finish runs the checks that need the whole run: call it at the end.
// explain, if not nil, adds to each stalled stream's violation what the
// simulator knows of it.
func (c *Checker) Finish(explain func(Stall) string) {
	for _, s := range c.Stalls() {
		why := ""
		if explain != nil {
			if why = explain(s); why != "" {
				why = " (" + why + ")"
			}
		}
		c.violate("member %d: %d of %d %s undelivered at the deadline, first %v%s", s.Receiver, s.Missing, s.Expected, streamName(s.First), s.First, why)
	}
	c.checkOwnCasts()
	c.checkHeldAll()
	for _, v := range c.viewList {
		for _, in := range v.installs {
			c.checkPrefix(in)
		}
		c.checkSynchrony(v)
	}
}

// checkOwnCasts checks that each live process that never asked to leave
// delivered every cast it sent, those sent during view changes included.
func (c *Checker) checkOwnCasts() {
	for p, pc := range c.procs {
		if pc.crashed || pc.leaving || pc.left {
			continue
		}
		st := c.streams[ID{Kind: KindCast, From: p}]
		if st == nil {
			continue
		}
		missing, first := 0, -1
		for i := range st.msgs {
			if !st.msgs[i].ownDone {
				missing++
				if first < 0 {
					first = i
				}
			}
		}
		if missing > 0 {
			c.violate("member %d: never delivered %d of its own %d casts, first %v", p, missing, len(st.msgs), ID{Kind: KindCast, From: p, Index: first})
		}
	}
}

// checkPrefix checks that, per stream, what a member delivered in a view
// is a prefix of what went out in it.
func (c *Checker) checkPrefix(in *install) {
	pos := make(map[ID]int)
	for _, id := range in.got {
		key := streamKey(id)
		if slices.Contains(in.bad, key) {
			continue
		}
		out := in.view.out[key]
		i := pos[key]
		pos[key]++
		switch {
		case i >= len(out):
			c.violate("member %d: delivered %v in %s, where only %d of %s went out", in.proc, id, c.viewString(in.view.id, in.view.members), len(out), streamName(id))
			in.reported(key)
		case out[i] != id.Index:
			c.violate("member %d: delivered %v in %s where #%d was due (FIFO gap)", in.proc, id, c.viewString(in.view.id, in.view.members), out[i])
			in.reported(key)
		}
	}
}

// checkSynchrony checks that members moving from v to the same next view
// delivered the same casts in v, and under total order in the same order.
func (c *Checker) checkSynchrony(v *viewRecord) {
	first := make(map[*viewRecord]*install)
	for _, in := range v.installs {
		if in.next == nil {
			continue
		}
		ref, ok := first[in.next]
		if !ok {
			first[in.next] = in
			continue
		}
		a, b := casts(ref.got), casts(in.got)
		if c.total {
			if i := firstDifference(a, b); i >= 0 {
				c.violate("total order: members %d and %d moved from %s to %s but delivered %s and %s at position %d in it",
					ref.proc, in.proc, c.viewString(v.id, v.members), c.viewIDString(in.next.id), idAt(a, i), idAt(b, i), i)
				continue
			}
		}
		a, b = slices.SortedFunc(slices.Values(a), compareID), slices.SortedFunc(slices.Values(b), compareID)
		if i := firstDifference(a, b); i >= 0 {
			missing, holder, lacker := idAt(a, i), ref.proc, in.proc
			if i >= len(a) || i < len(b) && compareID(b[i], a[i]) < 0 {
				missing, holder, lacker = idAt(b, i), in.proc, ref.proc
			}
			c.violate("virtual synchrony: members %d and %d moved from %s to %s, but %s was delivered there by %d and not by %d (%d and %d casts)",
				ref.proc, in.proc, c.viewString(v.id, v.members), c.viewIDString(in.next.id), missing, holder, lacker, len(a), len(b))
		}
	}
}

func casts(ids []ID) []ID {
	out := make([]ID, 0, len(ids))
	for _, id := range ids {
		if id.Kind == KindCast {
			out = append(out, id)
		}
	}
	return out
}

// firstDifference is the first position at which a and b differ, or -1.
func firstDifference(a, b []ID) int {
	for i := range max(len(a), len(b)) {
		if i >= len(a) || i >= len(b) || a[i] != b[i] {
			return i
		}
	}
	return -1
}

func idAt(ids []ID, i int) string {
	if i < len(ids) {
		return ids[i].String()
	}
	return "nothing"
}

func compareID(a, b ID) int {
	return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To), cmp.Compare(a.Index, b.Index))
}

func streamName(id ID) string {
	if id.Kind == KindSend {
		return fmt.Sprintf("sends %d→%d", id.From, id.To)
	}
	return fmt.Sprintf("casts from %d", id.From)
}

// name is how violations and traces call an endpoint: m3 for process 3.
func (c *Checker) name(e membership.Endpoint) string {
	if p, ok := c.byEndpoint[e]; ok {
		return fmt.Sprintf("m%d", p)
	}
	return e.String()
}

func (c *Checker) viewIDString(id membership.ViewID) string {
	return fmt.Sprintf("%d@%s", id.LTime, c.name(id.Coord))
}

func (c *Checker) viewString(id membership.ViewID, members []membership.Endpoint) string {
	names := make([]string, len(members))
	for i, e := range members {
		names[i] = c.name(e)
	}
	return fmt.Sprintf("view %s [%s]", c.viewIDString(id), strings.Join(names, " "))
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
