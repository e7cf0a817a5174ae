//go:build !windows

package transport

import (
	"errors"
	"syscall"
)

const msgTrunc = syscall.MSG_TRUNC

// isTransient reports whether a socket error means only that a datagram was
// lost on its way, which the protocols above expect and repair. ECONNREFUSED
// and ECONNRESET carry an ICMP port unreachable for an earlier datagram;
// ENOBUFS is a full queue; the unreachable errors are routing trouble that a
// failure detector, not the transport, should act on.
func isTransient(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.ENOBUFS) ||
		errors.Is(err, syscall.EHOSTUNREACH) ||
		errors.Is(err, syscall.ENETUNREACH) ||
		errors.Is(err, syscall.EHOSTDOWN)
}

// isTruncated reports whether a receive error means the datagram was longer
// than the buffer and has been discarded.
func isTruncated(error) bool { return false }
