package conclave

import (
	"errors"
	"fmt"
	"math"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// A member (the membership protocol and its view's stack) is a state
// machine that one goroutine at a time runs: whichever holds the driver's
// lock. A pass, under the lock, goes:
//
//	take the input that is ready (datagrams, application requests), up
//	to a batch
//	→ Flush, so bundled messages leave
//	→ write the member's packets to the transport in one batch
//	→ hand events to the application
//	→ Advance
//	→ Continue, when the member left work for after its outputs
//	  (Pending), and its outputs in turn
//	→ again, until no input is ready
//
// Bundling therefore delays a message by at most one pass.
//
// Input reaches the member through two queues, datagrams from the reader
// goroutine and requests from Multicast and Send, which only a pass
// empties, so input keeps its order whoever runs the pass. The reader runs
// the pass itself on what it has just read when nobody else holds the lock:
// a datagram then goes from the socket through the stack to the events
// channel on one goroutine, without waiting for another to be scheduled,
// which on a quiet machine can cost the wake-up of a parked thread. When
// the lock is taken, the reader queues what it read and marks that input
// is waiting; the holder looks at the mark after it unlocks, and runs
// another pass if it is set, so no input waits for the next one.
//
// Multicast and Send likewise run a pass on their request themselves when
// nobody holds the lock, so that a message goes from the caller to the
// socket on the caller's goroutine. That pass takes requests only: what the
// network brings (an admission to check, a view to install) is left to the
// reader and the driver goroutine, so no protocol work runs on an
// application goroutine that may hold locks of its own. Only the first
// burstInline requests of a burst (requests less than burstGap apart) run
// their pass; the rest wait for the driver goroutine: a pass per message
// would send a datagram per message, where the driver goroutine, running
// the pass while the caller queues more, bundles them.
//
// The driver goroutine (run) does the rest: it runs the passes for the
// application's requests that found the lock taken or came in a burst, the
// ticks, Leave, Evict, Rekey and Counters; it hands the application the
// events that did not fit into the events channel; and it stops the member.

const (
	readBatch  = 32   // datagrams per ReadBatch
	readQueue  = 16   // batches in flight between reader and driver
	inputBatch = 256  // inputs taken per pass before flushing
	maxPending = 4096 // events waiting for the application beyond the events channel before input pauses
	maxRounds  = 4    // passes a goroutine runs in a row before it hands over

	// burstGap is the time between two requests below which the second
	// is part of a burst. A pass with one small message costs some
	// microseconds, most of them the send system call; an application
	// sending more often than this gains more from bundling than from
	// sending each message at once.
	burstGap = 50 * time.Microsecond

	// burstInline is how many requests of a burst run their own pass: a
	// short burst (a paced sender that fell behind and sends two at once)
	// gains latency, a long one soon goes to the driver goroutine.
	burstInline = 2
)

type inbound struct {
	pkts []transport.Incoming
	err  error
}

type driver struct {
	g     *Group
	start time.Time
	recv  chan inbound
	free  chan []transport.Incoming

	// more says that input was queued that no pass may have seen yet: set
	// by the goroutine that queued it, cleared by the holder of mu just
	// before a pass that takes it (see unlock).
	more atomic.Bool

	// lastReq is when the last request was queued or passed, since
	// start; burst counts the requests of the burst it is part of;
	// burstGap is the constant, but for tests.
	lastReq  atomic.Int64
	burst    atomic.Int32
	burstGap time.Duration

	mu      sync.Mutex // held for a pass; guards the fields below
	member  *membership.Member
	out     []transport.Outgoing
	pending []Event // for the application, oldest first, once the events channel is full
	head    int
	seeds   seedWatch
	err     error // why the member stopped; no pass runs once it is set
	handed  bool  // the pass put events into the events channel
}

func newDriver(g *Group, m *membership.Member) *driver {
	d := &driver{
		g:      g,
		member: m,
		start:  time.Now(),
		recv:   make(chan inbound, readQueue),
		free:   make(chan []transport.Incoming, readQueue),
		seeds:  newSeedWatch(&g.cfg),

		burstGap: burstGap,
	}
	// Long before the start: the first request is no part of a burst.
	d.lastReq.Store(math.MinInt64 / 2)
	for range readQueue {
		d.free <- make([]transport.Incoming, readBatch)
	}
	return d
}

// readLoop reads datagrams, queues them and runs a pass on them if nobody
// else is running one. It never waits for the lock: while another
// goroutine runs the member, it goes back to reading, and the other runs
// the pass.
func (d *driver) readLoop() {
	for {
		var batch []transport.Incoming
		select {
		case batch = <-d.free:
		case <-d.g.exited:
			return
		}
		n, err := d.g.conn.ReadBatch(batch)
		select {
		case <-d.g.exited:
			// The socket may outlive the member (Config.Conn): what it
			// reads now is not this member's.
			return
		default:
		}
		// The queue holds as many batches as there are, so this never
		// waits.
		d.recv <- inbound{pkts: batch[:n], err: err}
		if d.kick() {
			// The application's goroutine, woken by the events, runs
			// now on this thread, before the next read's system call.
			runtime.Gosched()
		}
		if err != nil {
			return
		}
	}
}

// kick runs passes for the input just queued, unless another goroutine is
// running the member: that one then runs them before it lets go. It
// reports whether its passes handed the application events.
func (d *driver) kick() bool {
	d.more.Store(true)
	return d.mu.TryLock() && d.unlock()
}

// submitted runs a pass on the request the caller has just queued, as the
// package comment says, or wakes the driver goroutine to run it.
func (d *driver) submitted() {
	now := int64(time.Since(d.start))
	if now-d.lastReq.Swap(now) >= int64(d.burstGap) {
		d.burst.Store(1)
	} else if d.burst.Add(1) > burstInline {
		d.g.notify()
		return
	}
	// The gap to the next request counts from the end of this one's pass,
	// so that the pass's own cost does not make a burst look like a
	// trickle.
	defer func() { d.lastReq.Store(int64(time.Since(d.start))) }()
	if !d.mu.TryLock() {
		// The holder runs a pass for it when it lets go.
		d.more.Store(true)
		return
	}
	if d.err == nil {
		took := 0
		for took < inputBatch && d.err == nil {
			r, ok := d.takeRequest()
			if !ok {
				break
			}
			d.request(r)
			took++
		}
		if took > 0 {
			d.flush()
		}
	}
	stopped := d.err != nil
	d.mu.Unlock()
	// Input queued meanwhile by a goroutine that found the lock taken is
	// the driver goroutine's to take: the caller takes requests only.
	if stopped || d.more.Load() {
		d.g.notify()
	}
}

// takeRequest takes a queued request, if flow control lets one in.
func (d *driver) takeRequest() (request, bool) {
	select {
	case r := <-d.accepting():
		return r, true
	default:
		return request{}, false
	}
}

// drive runs fn on the member, then a pass, which flushes even if no input
// is waiting, as after any event of the member's own.
func (d *driver) drive(fn func()) {
	d.mu.Lock()
	if d.err == nil {
		d.member.PauseInput(d.deaf())
		fn()
		if d.pass(true) {
			d.more.Store(true)
		}
	}
	d.unlock()
}

// unlock releases mu, held by the caller, after running passes for the
// input queued since: its own, or, marked by more, another goroutine's
// that found mu taken. The mark is cleared before each pass under the lock
// and read after releasing it, so input queued during a pass is either
// seen by that pass or found marked afterwards. Every holder of mu but
// submitted lets go through unlock; submitted, which runs no pass on
// datagrams, leaves input marked by others to the driver goroutine. A
// goroutine that keeps finding input hands it to the driver goroutine
// after a few passes, so that the reader goes back to the socket and the
// driver goroutine's ticks are not held up by a stream of requests. unlock
// reports whether the passes handed the application events.
func (d *driver) unlock() bool {
	handed := false
	for round := 0; ; round++ {
		if d.more.Swap(false) && d.err == nil {
			d.member.PauseInput(d.deaf())
			d.handed = false
			if d.pass(false) {
				// Until a pass finds nothing, input may be waiting.
				d.more.Store(true)
			}
			handed = handed || d.handed
		}
		stopped := d.err != nil
		d.mu.Unlock()
		if stopped {
			d.g.notify()
			return handed
		}
		if !d.more.Load() {
			return handed
		}
		if round == maxRounds {
			d.g.notify()
			return handed
		}
		if !d.mu.TryLock() {
			return handed
		}
	}
}

// pass takes the input that is ready, up to a batch, then, if it took any
// or flush is set, flushes the member and writes what it has to send. It
// keeps the first error, after which the member stops. It reports whether
// it took input: more may have come meanwhile. It is called with mu held.
func (d *driver) pass(flush bool) bool {
	took := 0
	for took < inputBatch && d.err == nil && d.take() {
		took++
	}
	if took > 0 || flush {
		d.flush()
	}
	return took > 0
}

// flush flushes the member and writes what it has to send, keeping the
// first error. It is called with mu held.
func (d *driver) flush() {
	d.member.Flush()
	if err := d.output(); err != nil && d.err == nil {
		d.err = err
	}
	for d.member.Pending() && d.err == nil {
		// Work the member left for after its outputs (a coordinator's
		// own Prepare), which have now left: before any other input.
		d.member.Continue()
		d.member.Flush()
		if err := d.output(); err != nil {
			d.err = err
		}
	}
	if d.member.Left() && d.err == nil {
		d.err = ErrClosed
	}
}

// take feeds the member one input that is ready, if there is one.
func (d *driver) take() bool {
	select {
	case in := <-d.input():
		d.err = d.receive(in)
	case r := <-d.accepting():
		d.request(r)
	default:
		return false
	}
	return true
}

// deaf reports whether the application lags so far behind that the
// member stops reading the network: its acknowledgements then stop too,
// and flow control slows the senders down.
func (d *driver) deaf() bool { return len(d.pending)-d.head >= maxPending }

// accepting returns the request queue, or nil while flow control or a
// view change holds too many messages back, or while the application lags
// behind with its events (a member alone has no other brake on a sender
// that reads slowly).
func (d *driver) accepting() chan request {
	if d.member.Backlog() >= d.g.cfg.Backlog || d.deaf() {
		return nil
	}
	return d.g.reqs
}

// input returns the datagram queue, or nil while the member is deaf.
func (d *driver) input() chan inbound {
	if d.deaf() {
		return nil
	}
	return d.recv
}

// next returns the events channel and the oldest pending event, or a nil
// channel when nothing is pending. It is called with mu held.
func (d *driver) next() (chan Event, Event) {
	if d.head == len(d.pending) {
		return nil, Event{}
	}
	return d.g.events, d.pending[d.head]
}

// pop removes the oldest pending event, which the application has. It is
// called with mu held.
func (d *driver) pop() {
	d.pending[d.head] = Event{}
	d.head++
	switch {
	case d.head == len(d.pending):
		d.pending, d.head = d.pending[:0], 0
	case d.head >= maxPending:
		// The application keeps up but never catches up: move the
		// waiting events to the front, or the slice grows forever.
		n := copy(d.pending, d.pending[d.head:])
		clear(d.pending[n:])
		d.pending, d.head = d.pending[:n], 0
	}
}

func (d *driver) run() {
	g := d.g
	tick := time.NewTicker(g.cfg.Tick)
	defer tick.Stop()
	leave := g.leave
	for {
		d.mu.Lock()
		stopped := d.err != nil
		events, ev := d.next()
		d.unlock()
		if stopped {
			break
		}
		select {
		case events <- ev:
			d.mu.Lock()
			d.pop()
			// Input waits while the member is deaf; it may not be now.
			d.more.Store(true)
			d.unlock()
		case <-g.wake:
			d.kick()
		case now := <-tick.C:
			d.drive(func() {
				// Read what arrived first: after a pause, stale silence
				// must not look like failure.
				for d.err == nil {
					select {
					case in := <-d.input():
						d.err = d.receive(in)
						continue
					default:
					}
					break
				}
				if d.err == nil {
					d.member.Tick(now.Sub(d.start))
					d.seeds.tick(now.Sub(d.start), d.handshakeUnanswered, d.member.LastRefusal)
				}
			})
		case <-leave:
			leave = nil
			d.drive(d.member.Leave)
		case e := <-g.evict:
			d.drive(func() { d.member.Suspect(e) })
		case <-g.rekey:
			d.drive(d.member.Rekey)
		case reply := <-g.stats:
			d.mu.Lock()
			cs := append(d.member.Counters(), transportCounters(g.conn)...)
			d.unlock()
			reply <- cs
		case <-g.done:
			d.mu.Lock()
			if d.err == nil {
				d.err = ErrClosed
			}
			d.unlock()
		}
	}
	d.stop()
}

func (d *driver) request(r request) {
	if r.cast {
		d.member.Cast(r.data)
	} else {
		d.member.Send(r.to, r.data)
	}
}

func (d *driver) receive(in inbound) error {
	for i := range in.pkts {
		p := &in.pkts[i]
		d.member.Receive(p.From, p.Data)
		*p = transport.Incoming{}
		if d.member.Pending() && d.err == nil {
			// The outputs so far leave now, not at the end of the
			// batch, for the work the member left for after them.
			d.flush()
		}
	}
	d.free <- in.pkts[:cap(in.pkts)]
	if in.err != nil {
		if errors.Is(in.err, net.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("conclave: receive: %w", in.err)
	}
	return d.err
}

// output writes the member's packets and hands events to the application,
// then advances the member.
func (d *driver) output() error {
	rd := d.member.Ready()
	d.out = d.out[:0]
	for _, p := range rd.Packets {
		d.out = append(d.out, transport.Outgoing{To: p.Addr, Data: p.Data})
	}
	var err error
	if len(d.out) > 0 {
		if _, werr := d.g.conn.WriteBatch(d.out); werr != nil {
			err = fmt.Errorf("conclave: send: %w", werr)
		}
		clear(d.out)
	}
	d.queue(rd.Events)
	d.member.Advance()
	return err
}

// queue copies the messages into one buffer, so that the application can
// keep or change what it gets without touching the stack's copies, and
// hands the events to the application in order: into the events channel
// while it has room and nothing waits before them, else to the pending
// queue, which the driver goroutine empties into the channel as the
// application reads.
func (d *driver) queue(evs []membership.Event) {
	total := 0
	for _, x := range evs {
		total += len(x.Data)
	}
	buf := make([]byte, 0, total)
	for _, ev := range evs {
		switch ev.Kind {
		case Message:
			off := len(buf)
			buf = append(buf, ev.Data...)
			ev.Data = buf[off:len(buf):len(buf)]
		case ViewChange:
			d.g.setView(ev.View)
			d.seeds.view(len(ev.View.Members))
		case Block, Left, KeyChange:
		default:
			continue
		}
		if d.head == len(d.pending) {
			select {
			case d.g.events <- ev:
				d.handed = true
				continue
			default:
				d.g.notify()
			}
		}
		d.pending = append(d.pending, ev)
	}
}

// stop ends the member. After a graceful leave the events still pending
// (the last deliveries, the Left event) are handed over before Events
// closes, unless the group is being closed.
func (d *driver) stop() {
	g := d.g
	// No pass runs once err is set, so what is read here stays put.
	d.mu.Lock()
	err, left, pending := d.err, d.member.Left(), d.pending[d.head:]
	d.mu.Unlock()
	g.err = err
	if g.ownsC {
		g.conn.Close()
	}
	close(g.exited)
	if left {
		for _, ev := range pending {
			select {
			case g.events <- ev:
			case <-g.done:
			}
		}
	}
	close(g.events)
	if !errors.Is(err, ErrClosed) {
		g.cfg.Logger.Error("member stopped", "err", err)
	}
}

// handshakeUnanswered reports whether the member, still alone, has run an
// admission handshake with a group, whichever side it took: one it
// finished, refused, or that stalled. A group answered, then.
func (d *driver) handshakeUnanswered() bool {
	if d.g.cfg.Credential == nil && d.g.cfg.Participant == nil {
		return false
	}
	for _, c := range d.member.Counters() {
		switch c.Name {
		case "admissions_done", "admissions_refused", "admissions_stalled", "merge_timeout":
			if c.Layer == "membership" && c.Value > 0 {
				return true
			}
		}
	}
	return false
}

// transportCounters reports what the transport dropped, beside the
// member's own counters.
func transportCounters(c transport.Conn) []layers.Counter {
	uc, ok := c.(*transport.UDPConn)
	if !ok {
		return nil
	}
	return []layers.Counter{{Layer: "transport", Name: "drop.too_large", Value: uc.Stats().Truncated}}
}
