//go:build linux

package transport

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// batchConn is the batch API that ipv4.PacketConn and ipv6.PacketConn share;
// ipv6.Message and ipv4.Message are the same type.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

// batchIO moves datagrams with recvmmsg and sendmmsg. Its receive half is
// used only by ReadBatch and its send half only by WriteBatch, matching the
// concurrency Conn allows, so neither half needs a lock.
type batchIO struct {
	pc          batchConn
	maxDatagram int

	// rmsgs[i] reads into rbufs[i], a scratch buffer of MaxDatagram+1
	// bytes that lives as long as the conn: a datagram that fills it is
	// too long, even where the OS does not report truncation.
	rmsgs []ipv4.Message
	rbufs [][]byte

	// wmsgs[i].Buffers is wbufs[i:i+1], so pointing a message at a datagram
	// is one store, not a slice allocation.
	wmsgs []ipv4.Message
	wbufs [][]byte

	// addrs caches the *net.UDPAddr that x/net needs for each destination,
	// so sending to known peers does not allocate.
	addrs map[netip.AddrPort]*net.UDPAddr
}

// maxCachedAddrs bounds the destination cache; a group talks to a bounded
// set of peers, and past this the cache is simply rebuilt.
const maxCachedAddrs = 4096

func newBatchIO(c *net.UDPConn, is4 bool, maxDatagram int) *batchIO {
	b := &batchIO{
		maxDatagram: maxDatagram,
		wmsgs:       make([]ipv4.Message, maxWriteBatch),
		wbufs:       make([][]byte, maxWriteBatch),
		addrs:       make(map[netip.AddrPort]*net.UDPAddr),
	}
	if is4 {
		b.pc = ipv4.NewPacketConn(c)
	} else {
		b.pc = ipv6.NewPacketConn(c)
	}
	for i := range b.wmsgs {
		b.wmsgs[i].Buffers = b.wbufs[i : i+1]
	}
	return b
}

// recv blocks until a datagram is ready, then reads up to limit datagrams
// into the scratch buffers, where they stay until the next recv. x/net
// parses each source address into a new *net.UDPAddr, which costs two small
// allocations per datagram that this package cannot avoid while it goes
// through x/net.
func (b *batchIO) recv(limit int) (int, error) {
	if len(b.rmsgs) < limit {
		b.growReceive(limit)
	}
	n, err := b.pc.ReadBatch(b.rmsgs[:limit], 0)
	if err != nil {
		return 0, err
	}
	return n, nil
}

// growReceive adds scratch buffers lazily, so a caller reading small batches
// never pays for maxReadBatch of them.
func (b *batchIO) growReceive(limit int) {
	old := len(b.rmsgs)
	size := b.maxDatagram + 1
	scratch := make([]byte, (limit-old)*size)
	b.rbufs = append(b.rbufs, make([][]byte, limit-old)...)
	for i := old; i < limit; i++ {
		b.rbufs[i] = scratch[:size:size]
		scratch = scratch[size:]
	}
	b.rmsgs = make([]ipv4.Message, limit)
	for i := range b.rmsgs {
		b.rmsgs[i].Buffers = b.rbufs[i : i+1]
	}
}

// datagram returns the i-th datagram of the last recv, still in scratch.
func (b *batchIO) datagram(i int) (data []byte, from netip.AddrPort, truncated bool) {
	m := &b.rmsgs[i]
	if ua, ok := m.Addr.(*net.UDPAddr); ok {
		ap := ua.AddrPort()
		from = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	return b.rbufs[i][:m.N], from, m.Flags&unix.MSG_TRUNC != 0 || m.N > b.maxDatagram
}

// send hands datagrams from the front of pkts to the OS in one sendmmsg and
// returns how many it took. After an error, pkts[n] is the one refused.
func (b *batchIO) send(pkts []Outgoing) (int, error) {
	k := min(len(pkts), maxWriteBatch)
	for i, p := range pkts[:k] {
		b.wbufs[i] = p.Data
		b.wmsgs[i].Addr = b.udpAddr(p.To)
	}
	n, err := b.pc.WriteBatch(b.wmsgs[:k], 0)
	// Do not keep the caller's buffers reachable after returning.
	clear(b.wbufs[:k])
	if n < 0 {
		n = 0
	}
	return n, err
}

func (b *batchIO) udpAddr(ap netip.AddrPort) *net.UDPAddr {
	if ua, ok := b.addrs[ap]; ok {
		return ua
	}
	if len(b.addrs) >= maxCachedAddrs {
		clear(b.addrs)
	}
	ua := net.UDPAddrFromAddrPort(ap)
	b.addrs[ap] = ua
	return ua
}
