package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// resolveAddr reads a --listen or --seed value, HOST:PORT, where HOST is an
// IP address or a name to look up (localhost:7000). A name that resolves to
// several addresses gives the first IPv4 one, as members most often listen
// on IPv4, or else the first. The error names the flag and says what is
// wrong in words, not in the parser's.
func resolveAddr(ctx context.Context, flag, s string, portZeroOK bool) (netip.AddrPort, error) {
	if a, err := netip.ParseAddrPort(s); err == nil {
		if a.Port() == 0 && !portZeroOK {
			return netip.AddrPort{}, fmt.Errorf("%s %s: port 0 names no member; want the port the member listens on", flag, s)
		}
		return a, nil
	}
	host, portStr, err := net.SplitHostPort(s)
	if err != nil || host == "" {
		return netip.AddrPort{}, &hintError{
			err:  fmt.Errorf("%s %q: want HOST:PORT", flag, s),
			hint: "an IP address or a host name and a UDP port, as in 127.0.0.1:7000, localhost:7000 or [::1]:7000",
		}
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s %s: port %q: want a number from 0 to 65535", flag, s, portStr)
	}
	if port == 0 && !portZeroOK {
		return netip.AddrPort{}, fmt.Errorf("%s %s: port 0 names no member; want the port the member listens on", flag, s)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return netip.AddrPortFrom(ip, uint16(port)), nil
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		reason := err.Error()
		var de *net.DNSError
		if errors.As(err, &de) {
			reason = de.Err
			if de.IsNotFound {
				reason = "no such host"
			}
		}
		return netip.AddrPort{}, fmt.Errorf("%s %s: cannot resolve %q: %s", flag, s, host, reason)
	}
	if len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s %s: %q has no IP address", flag, s, host)
	}
	ip := ips[0]
	for _, a := range ips {
		if a.Unmap().Is4() {
			ip = a
			break
		}
	}
	return netip.AddrPortFrom(ip.Unmap(), uint16(port)), nil
}
