package transport

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync/atomic"
)

const (
	defaultSocketBuffer = 4 << 20

	// defaultMaxDatagram is the largest UDP payload IPv4 can carry.
	defaultMaxDatagram = 65507
	maxMaxDatagram     = 65535

	// maxReadBatch bounds the datagrams one receive system call may return.
	// Each needs its own MaxDatagram-sized scratch buffer, so this also
	// bounds the scratch memory a UDPConn keeps: about 2 MiB by default.
	maxReadBatch = 32

	// maxWriteBatch bounds the datagrams one send system call carries. It
	// costs only message headers, so it is larger than maxReadBatch.
	maxWriteBatch = 64
)

// UDPOptions configures ListenUDP. The zero value gives the defaults.
type UDPOptions struct {
	// ReadBuffer and WriteBuffer are the socket buffer sizes in bytes,
	// 4 MiB each by default. A group member receives bursts from many peers
	// at once, and a small receive buffer turns a burst into loss. On Linux,
	// when the process may (CAP_NET_ADMIN), the sizes are forced past the
	// net.core.rmem_max and wmem_max caps; otherwise the kernel caps them
	// silently.
	ReadBuffer, WriteBuffer int

	// MaxDatagram is the largest datagram received, 65507 bytes by
	// default. Longer datagrams are dropped whole, before the caller sees
	// them, and counted in UDPStats.Truncated (the OS reports the
	// truncation of a datagram longer than the read buffer). A group
	// whose members send nothing longer than its stack's datagram size
	// (layers.Config.MaxDatagram) and its largest control message sets
	// it to the larger of the two; the default admits any IPv4 datagram,
	// because control messages may be far longer than the stack's.
	MaxDatagram int
}

func (o UDPOptions) withDefaults() (UDPOptions, error) {
	if o.ReadBuffer < 0 || o.WriteBuffer < 0 {
		return o, errors.New("transport: negative socket buffer size")
	}
	if o.MaxDatagram < 0 || o.MaxDatagram > maxMaxDatagram {
		return o, fmt.Errorf("transport: max datagram %d out of range [1, %d]", o.MaxDatagram, maxMaxDatagram)
	}
	if o.ReadBuffer == 0 {
		o.ReadBuffer = defaultSocketBuffer
	}
	if o.WriteBuffer == 0 {
		o.WriteBuffer = defaultSocketBuffer
	}
	if o.MaxDatagram == 0 {
		o.MaxDatagram = defaultMaxDatagram
	}
	return o, nil
}

// UDPStats is a snapshot of a UDPConn's counters.
type UDPStats struct {
	Sent       uint64 // datagrams the OS accepted
	SendErrors uint64 // datagrams skipped after a transient send error
	Received   uint64 // datagrams returned by ReadBatch
	Truncated  uint64 // datagrams longer than MaxDatagram, dropped

	// ReadBatches and WriteBatches count receive and send system calls, so
	// Received/ReadBatches and Sent/WriteBatches are the mean batch sizes
	// the OS saw.
	ReadBatches  uint64
	WriteBatches uint64
}

// UDPConn is a Conn over a UDP socket. On Linux each ReadBatch and
// WriteBatch moves many datagrams per system call (recvmmsg, sendmmsg);
// elsewhere it makes one system call per datagram and ReadBatch returns one
// datagram at a time.
type UDPConn struct {
	conn  *net.UDPConn
	local netip.AddrPort
	io    *batchIO

	sent, sendErrors, received, truncated atomic.Uint64
	readBatches, writeBatches             atomic.Uint64
}

var _ Conn = (*UDPConn)(nil)

// ListenUDP opens a UDP socket bound to addr. A zero port picks a free one;
// LocalAddr reports it. An IPv4 address gives an IPv4 socket; an IPv6
// address gives an IPv6 socket, which for the unspecified address [::] also
// accepts IPv4 where the OS allows dual-stack sockets.
func ListenUDP(addr netip.AddrPort, opts UDPOptions) (*UDPConn, error) {
	if !addr.IsValid() {
		return nil, errors.New("transport: invalid listen address")
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
	if err != nil {
		return nil, fmt.Errorf("transport: listen %v: %w", addr, err)
	}
	if err := setSocketBuffers(conn, opts.ReadBuffer, opts.WriteBuffer); err != nil {
		conn.Close()
		return nil, fmt.Errorf("transport: socket buffers: %w", err)
	}
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	return &UDPConn{
		conn:  conn,
		local: local,
		io:    newBatchIO(conn, local.Addr().Is4(), opts.MaxDatagram),
	}, nil
}

// WriteBatch implements Conn.
func (c *UDPConn) WriteBatch(pkts []Outgoing) (int, error) {
	done := 0
	for done < len(pkts) {
		n, err := c.io.send(pkts[done:])
		c.writeBatches.Add(1)
		c.sent.Add(uint64(n))
		done += n
		switch {
		case err == nil && n == 0:
			// The OS neither sent nor refused anything; retrying would spin.
			return done, errors.New("transport: send made no progress")
		case err == nil:
		case isTransient(err):
			c.sendErrors.Add(1)
			done++
		default:
			return done, fmt.Errorf("transport: %w", err)
		}
	}
	return done, nil
}

// ReadBatch implements Conn. Every call returns datagrams copied into one
// freshly allocated slab sized to the bytes received, so the caller owns
// them and the socket's scratch buffers are reused.
func (c *UDPConn) ReadBatch(pkts []Incoming) (int, error) {
	if len(pkts) == 0 {
		return 0, nil
	}
	limit := min(len(pkts), maxReadBatch)
	for {
		n, err := c.io.recv(limit)
		if err != nil {
			switch {
			case isTruncated(err):
				c.truncated.Add(1)
				continue
			case isTransient(err):
				// A stale ICMP error surfacing on the receive side says
				// nothing about the datagrams waiting behind it.
				continue
			}
			return 0, fmt.Errorf("transport: %w", err)
		}
		c.readBatches.Add(1)

		total := 0
		for i := range n {
			if data, _, trunc := c.io.datagram(i); !trunc {
				total += len(data)
			}
		}
		slab := make([]byte, total)
		k := 0
		for i := range n {
			data, from, trunc := c.io.datagram(i)
			if trunc {
				c.truncated.Add(1)
				continue
			}
			m := copy(slab, data)
			// The capacity limit keeps an append by the caller from running
			// into the next datagram's bytes.
			pkts[k] = Incoming{From: from, Data: slab[:m:m]}
			slab = slab[m:]
			k++
		}
		if k > 0 {
			c.received.Add(uint64(k))
			return k, nil
		}
	}
}

// LocalAddr implements Conn.
func (c *UDPConn) LocalAddr() netip.AddrPort { return c.local }

// Close implements Conn. A ReadBatch blocked in another goroutine returns an
// error satisfying errors.Is(err, net.ErrClosed).
func (c *UDPConn) Close() error { return c.conn.Close() }

// Stats returns a snapshot of the counters.
func (c *UDPConn) Stats() UDPStats {
	return UDPStats{
		Sent:         c.sent.Load(),
		SendErrors:   c.sendErrors.Load(),
		Received:     c.received.Load(),
		Truncated:    c.truncated.Load(),
		ReadBatches:  c.readBatches.Load(),
		WriteBatches: c.writeBatches.Load(),
	}
}
