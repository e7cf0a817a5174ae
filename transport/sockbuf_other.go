//go:build !linux

package transport

import "net"

func setSocketBuffers(c *net.UDPConn, read, write int) error {
	if err := c.SetReadBuffer(read); err != nil {
		return err
	}
	return c.SetWriteBuffer(write)
}
