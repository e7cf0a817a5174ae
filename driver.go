package conclave

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/transport"
)

// The driver is the one goroutine that owns a member's stack. Its loop:
//
//	wait for input (datagrams, application requests, the ticker)
//	→ feed it to the stack, then whatever else is ready, up to a batch
//	→ Flush, so bundled messages leave
//	→ write the stack's packets to the transport in one batch
//	→ hand deliveries to the application
//	→ Advance
//
// Bundling therefore delays a message by at most one pass of the loop.

const (
	readBatch  = 32  // datagrams per ReadBatch
	readQueue  = 16  // batches in flight between reader and driver
	inputBatch = 256 // inputs taken per loop pass before flushing
)

type inbound struct {
	pkts []transport.Incoming
	err  error
}

type driver struct {
	g      *Group
	stack  *layers.Stack
	start  time.Time
	ranks  map[netip.AddrPort]int
	recv   chan inbound
	free   chan []transport.Incoming
	out    []transport.Outgoing
	drops  map[string]uint64
	closed bool
}

func newDriver(g *Group, s *layers.Stack) *driver {
	d := &driver{
		g:     g,
		stack: s,
		start: time.Now(),
		ranks: make(map[netip.AddrPort]int, len(g.cfg.Members)),
		recv:  make(chan inbound, readQueue),
		free:  make(chan []transport.Incoming, readQueue),
		drops: make(map[string]uint64),
	}
	for i, a := range g.cfg.Members {
		d.ranks[unmap(a)] = i
	}
	for range readQueue {
		d.free <- make([]transport.Incoming, readBatch)
	}
	return d
}

// unmap makes IPv4-mapped IPv6 addresses compare equal to their IPv4 form.
func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
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

func (d *driver) run() {
	g := d.g
	tick := time.NewTicker(g.cfg.Tick)
	defer tick.Stop()
	var err error
	for err == nil {
		reqs := g.reqs
		if d.stack.Backlog() >= g.cfg.Backlog {
			reqs = nil // flow control: leave the application waiting
		}
		select {
		case in := <-d.recv:
			err = d.receive(in)
		case r := <-reqs:
			d.request(r)
		case now := <-tick.C:
			d.stack.Tick(now.Sub(d.start))
		case reply := <-g.stats:
			reply <- d.counters()
			continue
		case <-g.done:
			err = ErrClosed
		}
		// Take what else is ready without waiting, then send it all.
		for i := 0; i < inputBatch && err == nil; i++ {
			reqs := g.reqs
			if d.stack.Backlog() >= g.cfg.Backlog {
				reqs = nil
			}
			select {
			case in := <-d.recv:
				err = d.receive(in)
				continue
			case r := <-reqs:
				d.request(r)
				continue
			default:
			}
			break
		}
		d.stack.Flush()
		if werr := d.output(); werr != nil && err == nil {
			err = werr
		}
	}
	d.stop(err)
}

func (d *driver) request(r request) {
	if r.to == layers.AllPeers {
		d.stack.Cast(r.data)
	} else {
		d.stack.Send(r.to, r.data)
	}
}

func (d *driver) receive(in inbound) error {
	for i := range in.pkts {
		p := &in.pkts[i]
		rank, ok := d.ranks[unmap(p.From)]
		if !ok || rank == d.g.cfg.Self {
			d.drops["unknown_address"]++
		} else {
			d.stack.Receive(p.Data)
		}
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

// output writes the stack's packets and hands deliveries to the
// application, then advances the stack.
func (d *driver) output() error {
	rd := d.stack.Ready()
	cfg := &d.g.cfg
	d.out = d.out[:0]
	for _, p := range rd.Packets {
		if p.To != layers.AllPeers {
			d.out = append(d.out, transport.Outgoing{To: cfg.Members[p.To], Data: p.Data})
			continue
		}
		for r, a := range cfg.Members {
			if r != cfg.Self {
				d.out = append(d.out, transport.Outgoing{To: a, Data: p.Data})
			}
		}
	}
	var err error
	if len(d.out) > 0 {
		if _, werr := d.g.conn.WriteBatch(d.out); werr != nil {
			err = fmt.Errorf("conclave: send: %w", werr)
		}
		clear(d.out)
	}
	if len(rd.Deliveries) > 0 && err == nil {
		err = d.deliver(rd.Deliveries)
	}
	d.stack.Advance()
	return err
}

// deliver copies the deliveries into one buffer, so that the application
// can keep or change what it gets without touching the stack's copies, and
// passes them on in order.
func (d *driver) deliver(ds []layers.Delivery) error {
	total := 0
	for _, x := range ds {
		total += len(x.Data)
	}
	buf := make([]byte, 0, total)
	for _, x := range ds {
		off := len(buf)
		buf = append(buf, x.Data...)
		ev := Event{Kind: Message, From: x.From, Multicast: x.Type == layers.ECast, Data: buf[off:len(buf):len(buf)]}
		select {
		case d.g.events <- ev:
		case <-d.g.done:
			return ErrClosed
		}
	}
	return nil
}

func (d *driver) counters() []layers.Counter {
	cs := d.stack.Counters()
	for reason, n := range d.drops {
		cs = append(cs, layers.Counter{Layer: "driver", Name: "drop." + reason, Value: n})
	}
	return cs
}

func (d *driver) stop(err error) {
	g := d.g
	g.err = err
	if g.ownsC {
		g.conn.Close()
	}
	close(g.exited)
	close(g.events)
	if !errors.Is(err, ErrClosed) {
		g.cfg.Logger.Error("conclave: member stopped", "err", err)
	}
}

// seed draws the stack's random seed from the operating system.
func seed() uint64 {
	var b [8]byte
	crand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:])
}
