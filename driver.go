package conclave

import (
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// The driver is the one goroutine that owns a member (the membership
// protocol and its view's stack). Its loop:
//
//	wait for input (datagrams, application requests, the ticker)
//	→ feed it to the member, then whatever else is ready, up to a batch
//	→ Flush, so bundled messages leave
//	→ write the member's packets to the transport in one batch
//	→ hand events to the application
//	→ Advance
//
// Bundling therefore delays a message by at most one pass of the loop.

const (
	readBatch  = 32   // datagrams per ReadBatch
	readQueue  = 16   // batches in flight between reader and driver
	inputBatch = 256  // inputs taken per loop pass before flushing
	maxPending = 4096 // events waiting for the application before input pauses
)

type inbound struct {
	pkts []transport.Incoming
	err  error
}

type driver struct {
	g       *Group
	member  *membership.Member
	start   time.Time
	recv    chan inbound
	free    chan []transport.Incoming
	out     []transport.Outgoing
	pending []Event // for the application, oldest first
	head    int
	seeds   seedWatch
}

func newDriver(g *Group, m *membership.Member) *driver {
	d := &driver{
		g:      g,
		member: m,
		start:  time.Now(),
		recv:   make(chan inbound, readQueue),
		free:   make(chan []transport.Incoming, readQueue),
		seeds:  newSeedWatch(&g.cfg),
	}
	for range readQueue {
		d.free <- make([]transport.Incoming, readBatch)
	}
	return d
}

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
		case d.recv <- inbound{pkts: batch[:n], err: err}:
		case <-d.g.exited:
			return
		}
		if err != nil {
			return
		}
	}
}

// accepting returns the request channel, or nil while flow control or a
// view change holds too many messages back, or while the application lags
// behind with its events (a member alone has no other brake on a sender
// that reads slowly).
func (d *driver) accepting() chan request {
	if d.member.Backlog() >= d.g.cfg.Backlog || len(d.pending)-d.head >= maxPending {
		return nil
	}
	return d.g.reqs
}

// input returns the datagram channel, or nil while the application lags so
// far behind that the driver stops reading the network: the member's
// acknowledgements then stop too, and flow control slows the senders down.
func (d *driver) input() chan inbound {
	if len(d.pending)-d.head >= maxPending {
		return nil
	}
	return d.recv
}

// next returns the events channel and the oldest pending event, or a nil
// channel when nothing is pending.
func (d *driver) next() (chan Event, Event) {
	if d.head == len(d.pending) {
		return nil, Event{}
	}
	return d.g.events, d.pending[d.head]
}

func (d *driver) run() {
	g := d.g
	tick := time.NewTicker(g.cfg.Tick)
	defer tick.Stop()
	leave := g.leave
	var err error
	for err == nil {
		events, ev := d.next()
		deaf := d.input() == nil
		d.member.PauseInput(deaf)
		select {
		case events <- ev:
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
			continue
		case in := <-d.input():
			err = d.receive(in)
		case r := <-d.accepting():
			d.request(r)
		case now := <-tick.C:
			// Read what arrived first: after a pause, stale silence must
			// not look like failure.
			for drained := false; !drained && err == nil; {
				select {
				case in := <-d.input():
					err = d.receive(in)
				default:
					drained = true
				}
			}
			d.member.Tick(now.Sub(d.start))
			d.seeds.tick(now.Sub(d.start), d.handshakeUnanswered, d.member.LastRefusal)
		case <-leave:
			leave = nil
			d.member.Leave()
		case e := <-g.evict:
			d.member.Suspect(e)
		case <-g.rekey:
			d.member.Rekey()
		case reply := <-g.stats:
			reply <- append(d.member.Counters(), transportCounters(g.conn)...)
			continue
		case <-g.done:
			err = ErrClosed
		}
		// Take what else is ready without waiting, then send it all.
		for i := 0; i < inputBatch && err == nil; i++ {
			select {
			case in := <-d.input():
				err = d.receive(in)
				continue
			case r := <-d.accepting():
				d.request(r)
				continue
			default:
			}
			break
		}
		d.member.Flush()
		if oerr := d.output(); oerr != nil && err == nil {
			err = oerr
		}
		if d.member.Left() && err == nil {
			err = ErrClosed
		}
	}
	d.stop(err)
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
	}
	d.free <- in.pkts[:cap(in.pkts)]
	if in.err != nil {
		if errors.Is(in.err, net.ErrClosed) {
			return ErrClosed
		}
		return fmt.Errorf("conclave: receive: %w", in.err)
	}
	return nil
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
// queues the events for the application in order.
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
		d.pending = append(d.pending, ev)
	}
}

// stop ends the member. After a graceful leave the events still pending
// (the last deliveries, the Left event) are handed over before Events
// closes, unless the group is being closed.
func (d *driver) stop(err error) {
	g := d.g
	g.err = err
	if g.ownsC {
		g.conn.Close()
	}
	close(g.exited)
	if d.member.Left() {
		for _, ev := range d.pending[d.head:] {
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
