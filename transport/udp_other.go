//go:build !linux

package transport

import (
	"net"
	"net/netip"
)

// batchIO moves one datagram per system call: x/net cannot batch outside
// Linux, and on Windows it cannot send or receive messages at all, so the
// standard library's allocation-free netip methods serve better.
type batchIO struct {
	conn    *net.UDPConn
	scratch []byte // MaxDatagram+1 bytes: a datagram filling it is too long
	max     int

	// The last datagram received, valid until the next recv.
	n     int
	from  netip.AddrPort
	flags int
}

func newBatchIO(c *net.UDPConn, _ bool, maxDatagram int) *batchIO {
	return &batchIO{conn: c, scratch: make([]byte, maxDatagram+1), max: maxDatagram}
}

// recv blocks until a datagram is ready and reads exactly one.
func (b *batchIO) recv(int) (int, error) {
	n, _, flags, from, err := b.conn.ReadMsgUDPAddrPort(b.scratch, nil)
	if err != nil {
		return 0, err
	}
	b.n, b.from, b.flags = n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), flags
	return 1, nil
}

// datagram returns the datagram of the last recv, still in scratch.
func (b *batchIO) datagram(int) (data []byte, from netip.AddrPort, truncated bool) {
	return b.scratch[:b.n], b.from, b.flags&msgTrunc != 0 || b.n > b.max
}

// send sends the first datagram of pkts.
func (b *batchIO) send(pkts []Outgoing) (int, error) {
	if _, err := b.conn.WriteToUDPAddrPort(pkts[0].Data, pkts[0].To); err != nil {
		return 0, err
	}
	return 1, nil
}
