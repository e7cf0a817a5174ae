package transport

import "net/netip"

// Outgoing is one datagram to send.
type Outgoing struct {
	To   netip.AddrPort
	Data []byte
}

// Incoming is one received datagram. The receiver owns Data after ReadBatch
// returns: the transport never reuses or writes to it again.
type Incoming struct {
	From netip.AddrPort
	Data []byte
}

// Conn is a datagram endpoint. ReadBatch may be called from one goroutine
// while WriteBatch is called from another; each method itself is not called
// concurrently with itself.
type Conn interface {
	// WriteBatch sends every packet, in order. It returns the number sent
	// and the first error; a datagram the OS refuses for a transient reason
	// (ECONNREFUSED from an ICMP unreachable, ENOBUFS) is skipped and
	// counted, not returned as an error (datagram semantics: loss is
	// normal). Skipped datagrams count towards the result, so it is less
	// than len(pkts) only together with an error, and then pkts[n] is the
	// datagram that failed. It blocks only as long as the OS blocks.
	WriteBatch(pkts []Outgoing) (int, error)

	// ReadBatch blocks until at least one datagram arrives, then fills
	// pkts[0:n] with as many as are ready (up to len(pkts)) and returns n.
	// After Close it returns net.ErrClosed (use errors.Is).
	//
	// Every implementation has a largest datagram it delivers (for
	// UDPConn, UDPOptions.MaxDatagram). A longer datagram is dropped whole
	// and counted, never truncated and never delivered in part: a
	// receiver's every bound on what one datagram can make it hold or
	// send starts from this size. A Data slice is therefore never longer
	// than that maximum.
	ReadBatch(pkts []Incoming) (int, error)

	LocalAddr() netip.AddrPort
	Close() error
}
