//go:build linux

package transport

import (
	"net"

	"golang.org/x/sys/unix"
)

// setSocketBuffers asks for SO_RCVBUFFORCE and SO_SNDBUFFORCE first: with
// CAP_NET_ADMIN they ignore net.core.rmem_max and wmem_max, which are often
// far below what a busy group member needs. Without the capability it falls
// back to the ordinary options, which the kernel caps silently.
func setSocketBuffers(c *net.UDPConn, read, write int) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var readErr, writeErr error
	err = rc.Control(func(fd uintptr) {
		readErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, read)
		writeErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, write)
	})
	if err != nil {
		return err
	}
	if readErr != nil {
		if err := c.SetReadBuffer(read); err != nil {
			return err
		}
	}
	if writeErr != nil {
		if err := c.SetWriteBuffer(write); err != nil {
			return err
		}
	}
	return nil
}
