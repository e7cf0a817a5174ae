package auth_test

import (
	"testing"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/membership"
)

// TestBoundsFitAdmission: any handshake within auth's bounds can be carried
// by membership's admission.
func TestBoundsFitAdmission(t *testing.T) {
	if auth.MaxMessage > membership.MaxHandshakeMessage || auth.MaxMessages > membership.MaxHandshakeMessages {
		t.Errorf("auth bounds %d bytes × %d messages exceed admission's %d × %d",
			auth.MaxMessage, auth.MaxMessages, membership.MaxHandshakeMessage, membership.MaxHandshakeMessages)
	}
}
