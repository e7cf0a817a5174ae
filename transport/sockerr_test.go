//go:build !windows

package transport

import (
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
)

func TestIsTransient(t *testing.T) {
	wrap := func(errno syscall.Errno) error {
		return &net.OpError{Op: "write", Net: "udp", Err: os.NewSyscallError("sendmmsg", errno)}
	}
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{wrap(syscall.ECONNREFUSED), true},
		{wrap(syscall.ENOBUFS), true},
		{wrap(syscall.EHOSTUNREACH), true},
		{wrap(syscall.EMSGSIZE), false},
		{wrap(syscall.EINVAL), false},
		{net.ErrClosed, false},
		{errors.New("other"), false},
	} {
		if got := isTransient(tc.err); got != tc.want {
			t.Errorf("isTransient(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
