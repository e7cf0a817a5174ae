package transport

import (
	"fmt"
	"net"
	"net/netip"
	"sync"
	"time"
)

// inboxSize is how many datagrams an endpoint holds before it drops new
// ones, as a full socket receive buffer would.
const inboxSize = 4096

// MemConn is a Conn on a Network, for running goroutine-driven code in one
// process without sockets. Datagrams due at once go straight into the
// destination's inbox during WriteBatch; delayed ones are delivered by a
// pump goroutine that the Network runs only while datagrams are in flight
// and endpoints are open.
type MemConn struct {
	net   *Network
	addr  netip.AddrPort
	clock func() time.Duration

	mu     sync.Mutex // guards inbox and closed
	inbox  inbox
	closed bool

	ready chan struct{} // holds a token while the inbox may be non-empty
	done  chan struct{} // closed by Close
}

var _ Conn = (*MemConn)(nil)

// errEndpointClosed matches net.ErrClosed, as the error of a closed socket
// does, so callers need not care which Conn they hold.
var errEndpointClosed = fmt.Errorf("transport: endpoint closed: %w", net.ErrClosed)

// Endpoint opens a Conn at addr. WriteBatch sends at clock(), and the pump
// delivers delayed datagrams by the clock of the first endpoint opened, so
// all endpoints of a Network should share one clock, advancing in step with
// real time. A nil clock means real time since the first endpoint opened.
// It panics if an endpoint is already open at addr.
func (n *Network) Endpoint(addr netip.AddrPort, clock func() time.Duration) *MemConn {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.endpoints[addr] != nil {
		panic(fmt.Sprintf("transport: endpoint %v already open", addr))
	}
	if n.clock == nil {
		if clock == nil {
			start := time.Now()
			clock = func() time.Duration { return time.Since(start) }
		}
		n.clock = clock
	}
	if clock == nil {
		clock = n.clock
	}
	c := &MemConn{
		net:   n,
		addr:  addr,
		clock: clock,
		ready: make(chan struct{}, 1),
		done:  make(chan struct{}),
	}
	n.endpoints[addr] = c
	n.kickPumpLocked()
	return c
}

// WriteBatch implements Conn. It never blocks for long: the network takes
// every datagram, and any loss happens inside it.
func (c *MemConn) WriteBatch(pkts []Outgoing) (int, error) {
	now := c.clock()
	n := c.net
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.endpoints[c.addr] != c {
		return 0, errEndpointClosed
	}
	for _, p := range pkts {
		n.sendLocked(now, c.addr, p.To, p.Data)
	}
	n.deliverDueLocked(now)
	n.kickPumpLocked()
	return len(pkts), nil
}

// ReadBatch implements Conn.
func (c *MemConn) ReadBatch(pkts []Incoming) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, errEndpointClosed
		}
		k := c.inbox.popInto(pkts)
		c.mu.Unlock()
		if k > 0 {
			return k, nil
		}
		select {
		case <-c.ready:
		case <-c.done:
		}
	}
}

// LocalAddr implements Conn.
func (c *MemConn) LocalAddr() netip.AddrPort { return c.addr }

// Close implements Conn. Datagrams still queued for the endpoint are
// discarded, and those arriving later count as unreachable.
func (c *MemConn) Close() error {
	n := c.net
	n.mu.Lock()
	if n.endpoints[c.addr] != c {
		n.mu.Unlock()
		return errEndpointClosed
	}
	delete(n.endpoints, c.addr)
	n.kickPumpLocked()
	n.mu.Unlock()

	c.mu.Lock()
	c.closed = true
	c.inbox = inbox{}
	c.mu.Unlock()
	close(c.done)
	return nil
}

// deliver puts one datagram in the inbox and reports false if it was full.
func (c *MemConn) deliver(m Incoming) bool {
	c.mu.Lock()
	ok := !c.closed && c.inbox.push(m)
	c.mu.Unlock()
	if ok {
		select {
		case c.ready <- struct{}{}:
		default:
		}
	}
	return ok
}

// deliverDueLocked moves every datagram due by now into its destination's
// inbox. Lock order is Network, then MemConn.
func (n *Network) deliverDueLocked(now time.Duration) {
	for {
		s, ok := n.popDueLocked(now)
		if !ok {
			return
		}
		dst := n.endpoints[s.to]
		switch {
		case dst == nil:
			n.stats.Unreachable++
		case !dst.deliver(Incoming{From: s.from, Data: s.data}):
			n.stats.Overflowed++
		default:
			n.deliveredLocked(&s)
		}
	}
}

// kickPumpLocked makes sure the pump runs when it has work and is awake
// early enough for the earliest datagram in flight. The pump exits by
// itself once nothing is in flight or no endpoint is open.
func (n *Network) kickPumpLocked() {
	at, ok := n.inFlight.next()
	if !ok || len(n.endpoints) == 0 {
		if n.pumping {
			n.signalPump()
		}
		return
	}
	if !n.pumping {
		n.pumping = true
		go n.pump()
		return
	}
	if at < n.pumpAt {
		n.signalPump()
	}
}

func (n *Network) signalPump() {
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// pump delivers delayed datagrams to endpoints when they fall due.
func (n *Network) pump() {
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		n.mu.Lock()
		now := n.clock()
		n.deliverDueLocked(now)
		at, ok := n.inFlight.next()
		if !ok || len(n.endpoints) == 0 {
			n.pumping = false
			n.mu.Unlock()
			return
		}
		n.pumpAt = at
		n.mu.Unlock()

		if timer == nil {
			timer = time.NewTimer(at - now)
		} else {
			timer.Reset(at - now)
		}
		select {
		case <-timer.C:
		case <-n.wake:
		}
	}
}

// inbox is a FIFO ring of received datagrams that grows on demand up to
// inboxSize, so idle endpoints stay small.
type inbox struct {
	buf     []Incoming
	head, n int
}

func (q *inbox) push(m Incoming) bool {
	if q.n == inboxSize {
		return false
	}
	if q.n == len(q.buf) {
		grown := make([]Incoming, min(max(16, 2*len(q.buf)), inboxSize))
		for i := range q.n {
			grown[i] = q.buf[(q.head+i)%len(q.buf)]
		}
		q.buf, q.head = grown, 0
	}
	q.buf[(q.head+q.n)%len(q.buf)] = m
	q.n++
	return true
}

// popInto moves up to len(pkts) datagrams into pkts and returns how many.
func (q *inbox) popInto(pkts []Incoming) int {
	k := min(len(pkts), q.n)
	for i := range k {
		pkts[i] = q.buf[q.head]
		q.buf[q.head] = Incoming{}
		q.head = (q.head + 1) % len(q.buf)
	}
	q.n -= k
	return k
}
