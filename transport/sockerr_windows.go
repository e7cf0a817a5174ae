//go:build windows

package transport

import (
	"errors"

	"golang.org/x/sys/windows"
)

const msgTrunc = windows.MSG_TRUNC

// isTransient reports whether a socket error means only that a datagram was
// lost on its way, which the protocols above expect and repair. Windows
// reports an ICMP port unreachable for an earlier datagram as WSAECONNRESET
// on the next receive, which must not stop the receive loop.
func isTransient(err error) bool {
	return errors.Is(err, windows.WSAECONNREFUSED) ||
		errors.Is(err, windows.WSAECONNRESET) ||
		errors.Is(err, windows.WSAENETRESET) ||
		errors.Is(err, windows.WSAENOBUFS) ||
		errors.Is(err, windows.WSAEHOSTUNREACH) ||
		errors.Is(err, windows.WSAENETUNREACH) ||
		errors.Is(err, windows.WSAEHOSTDOWN)
}

// isTruncated reports whether a receive error means the datagram was longer
// than the buffer and has been discarded, which Windows reports as
// WSAEMSGSIZE rather than with a flag.
func isTruncated(err error) bool { return errors.Is(err, windows.WSAEMSGSIZE) }
