package conclave

import (
	"context"
	"errors"
	"syscall"
	"testing"
)

func TestJoinSaysWhyItCannotListen(t *testing.T) {
	c := listenLoopback(t)
	_, err := Join(context.Background(), Config{Group: "g", Listen: c.LocalAddr()})
	want := "conclave: listen " + c.LocalAddr().String() + ": address already in use"
	if err == nil || err.Error() != want || !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("Join on a port in use: %v, want %q wrapping EADDRINUSE", err, want)
	}
}
