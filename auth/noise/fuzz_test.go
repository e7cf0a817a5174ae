package noise

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/auth"
)

// FuzzKeyFile: whatever a file holds, parsing never panics, and a file that
// parses marshals back to exactly its bytes.
func FuzzKeyFile(f *testing.F) {
	k, _ := GenerateKey(seeded(8))
	good := MarshalPrivateKeyFile(k)
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add([]byte("# conclave noise private key\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		k, err := ParsePrivateKeyFile(data)
		if err != nil {
			return
		}
		if out := MarshalPrivateKeyFile(k); !bytes.Equal(out, data) {
			t.Fatalf("parse → marshal changed the file:\n%q\n%q", data, out)
		}
	})
}

// FuzzPublicKey: a text that parses prints back to itself.
func FuzzPublicKey(f *testing.F) {
	k, _ := GenerateKey(seeded(8))
	f.Add(k.Public().String())
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePublicKey(s)
		if err == nil && p.String() != s {
			t.Fatalf("%q parsed and printed as %q", s, p.String())
		}
	})
}

// FuzzHandshake runs a genuine handshake, replacing the message at step
// with arbitrary bytes: the receiver never panics, and either refuses
// (and is dead) or, for the ephemeral key in clear that XX's first message
// is (even where the initiator speaks IK), goes on to a handshake the
// other side refuses.
func FuzzHandshake(f *testing.F) {
	f.Add(false, uint8(0), []byte{version, patternXX})
	f.Add(true, uint8(0), []byte{version, patternIK})
	f.Add(false, uint8(1), make([]byte, 96))
	f.Add(false, uint8(2), make([]byte, 64))
	f.Fuzz(func(t *testing.T, ik bool, step uint8, msg []byte) {
		i, r, _, _ := pair(t, ik)
		n := 3
		if ik {
			n = 2
		}
		k := int(step) % n
		sides := [2]auth.Handshake{i, r}
		for j := 0; j < k; j++ {
			m, _, err := sides[j%2].Create(nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := sides[(j+1)%2].Consume(m); err != nil {
				t.Fatal(err)
			}
		}
		to := sides[(k+1)%2]
		_, done, err := to.Consume(msg)
		if err != nil {
			if to.State() != auth.StateFailed {
				t.Fatalf("state %v after an error", to.State())
			}
			return
		}
		// A responder learns the pattern from message 1 itself, so any
		// 32-byte key framed as XX's first message is one it must take,
		// whatever the initiator meant to send.
		if k != 0 || len(msg) < 2 || msg[1] != patternXX {
			t.Fatalf("ik=%v: arbitrary message %d accepted (done %v)", ik, k+1, done)
		}
		// The initiator never sent msg; had it sent its own message 1,
		// it refuses the responder's answer to msg.
		m1, _, err := i.Create(nil)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(m1, msg) {
			return
		}
		m2, _, err := r.Create(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := i.Consume(m2); err == nil {
			t.Fatal("initiator accepted the answer to another message 1")
		}
	})
}
