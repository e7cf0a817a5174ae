package noise

import (
	"bytes"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	mrand "math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/auth"
	fnoise "github.com/flynn/noise"
)

// seeded returns a deterministic random source for tests.
func seeded(seed uint64) *mrand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	s[1] = byte(seed >> 8)
	return mrand.NewChaCha8(s)
}

func newCred(t testing.TB, seed uint64) *Credential {
	t.Helper()
	k, err := GenerateKey(seeded(seed))
	if err != nil {
		t.Fatal(err)
	}
	return NewCredential(k)
}

var prologueA = auth.Prologue([]byte("nonce-aaaaaaaaaa"), []byte("joiner:1"), []byte("coord:1"))
var prologueB = auth.Prologue([]byte("nonce-bbbbbbbbbb"), []byte("joiner:1"), []byte("coord:1"))

// pair starts an initiator (IK when ik) and a responder.
func pair(t testing.TB, ik bool) (i, r auth.Handshake, ci, cr *Credential) {
	t.Helper()
	ci, cr = newCred(t, 1), newCred(t, 2)
	var hint *auth.Identity
	if ik {
		id := cr.Identity()
		hint = &id
	}
	i, err := ci.Initiate(prologueA, hint, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	r, err = cr.Respond(prologueA, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	return i, r, ci, cr
}

// run drives a handshake to the end, sending payloads[k] with message k,
// and returns the messages and the payloads each side received.
func run(t testing.TB, i, r auth.Handshake, payloads [][]byte) (msgs, got [][]byte) {
	t.Helper()
	sides := [2]auth.Handshake{i, r}
	for k := 0; ; k++ {
		from, to := sides[k%2], sides[(k+1)%2]
		msg, doneFrom, err := from.Create(payloads[k])
		if err != nil {
			t.Fatalf("create %d: %v", k+1, err)
		}
		p, doneTo, err := to.Consume(msg)
		if err != nil {
			t.Fatalf("consume %d: %v", k+1, err)
		}
		msgs = append(msgs, msg)
		got = append(got, p)
		if doneFrom != doneTo {
			t.Fatalf("message %d: done %v at the sender, %v at the receiver", k+1, doneFrom, doneTo)
		}
		if doneTo {
			return msgs, got
		}
		if k > auth.MaxMessages {
			t.Fatal("handshake does not end")
		}
	}
}

func TestHandshake(t *testing.T) {
	for _, tc := range []struct {
		name     string
		ik       bool
		payloads [][]byte
	}{
		{"XX", false, [][]byte{nil, []byte("from the responder"), []byte("key package")}},
		{"IK", true, [][]byte{[]byte("key package"), []byte("from the responder")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			i, r, ci, cr := pair(t, tc.ik)
			msgs, got := run(t, i, r, tc.payloads)
			if len(msgs) != len(tc.payloads) {
				t.Fatalf("%d messages, want %d", len(msgs), len(tc.payloads))
			}
			for k := range tc.payloads {
				if !bytes.Equal(got[k], tc.payloads[k]) {
					t.Errorf("message %d delivered %q, want %q", k+1, got[k], tc.payloads[k])
				}
				if len(tc.payloads[k]) > 0 && bytes.Contains(msgs[k], tc.payloads[k]) {
					t.Errorf("message %d carries its payload in clear", k+1)
				}
			}
			ri, err := i.Result()
			if err != nil {
				t.Fatal(err)
			}
			rr, err := r.Result()
			if err != nil {
				t.Fatal(err)
			}
			if i.State() != auth.StateDone || r.State() != auth.StateDone {
				t.Fatalf("states %v, %v", i.State(), r.State())
			}
			if ri.Peer != cr.Identity() || rr.Peer != ci.Identity() {
				t.Errorf("identities: initiator sees %v (want %v), responder sees %v (want %v)", ri.Peer, cr.Identity(), rr.Peer, ci.Identity())
			}
			if len(ri.Secret) < auth.MinSecret || !bytes.Equal(ri.Secret, rr.Secret) {
				t.Errorf("secrets differ or too short: %d, %d bytes", len(ri.Secret), len(rr.Secret))
			}
			if !bytes.Equal(ri.Transcript, rr.Transcript) || bytes.Equal(ri.Transcript, ri.Secret) {
				t.Error("transcripts differ, or the secret is the public transcript hash")
			}
			// A message after done is refused.
			if _, _, err := r.Consume(msgs[len(msgs)-1]); !errors.Is(err, auth.ErrState) {
				t.Errorf("consume after done: %v, want ErrState", err)
			}
			if _, _, err := i.Create(nil); !errors.Is(err, auth.ErrState) {
				t.Errorf("create after done: %v, want ErrState", err)
			}
		})
	}
}

func TestSecretsDifferPerAttempt(t *testing.T) {
	i1, r1, _, _ := pair(t, false)
	run(t, i1, r1, [][]byte{nil, nil, nil})
	ci, cr := newCred(t, 1), newCred(t, 2)
	i2, _ := ci.Initiate(prologueB, nil, seeded(3))
	r2, _ := cr.Respond(prologueB, seeded(4))
	run(t, i2, r2, [][]byte{nil, nil, nil})
	a, _ := i1.Result()
	b, _ := i2.Result()
	if bytes.Equal(a.Secret, b.Secret) || bytes.Equal(a.Transcript, b.Transcript) {
		t.Error("two attempts with different prologues (and the same ephemeral randomness) share a secret or transcript")
	}
}

// TestTampered flips each bit position of each message: the receiver
// refuses, and is dead afterwards.
func TestTampered(t *testing.T) {
	for _, ik := range []bool{false, true} {
		i, r, _, _ := pair(t, ik)
		payloads := [][]byte{nil, []byte("p2"), []byte("p3")}
		if ik {
			payloads = [][]byte{[]byte("p1"), []byte("p2")}
		}
		msgs, _ := run(t, i, r, payloads)
		for k := range msgs {
			for pos := range msgs[k] {
				i, r, _, _ := pair(t, ik)
				sides := [2]auth.Handshake{i, r}
				// Replay the genuine messages up to k.
				for j := 0; j < k; j++ {
					if _, _, err := sides[j%2].Create(payloads[j]); err != nil {
						t.Fatal(err)
					}
					if _, _, err := sides[(j+1)%2].Consume(msgs[j]); err != nil {
						t.Fatal(err)
					}
				}
				if _, _, err := sides[k%2].Create(payloads[k]); err != nil {
					t.Fatal(err)
				}
				bad := bytes.Clone(msgs[k])
				bad[pos] ^= 0x01
				to := sides[(k+1)%2]
				_, _, err := to.Consume(bad)
				if err == nil && !ik && k == 0 && pos >= headerLen {
					// XX message 1 is an ephemeral key in clear: no
					// one can tell a changed one yet; the initiator
					// refuses the answer, whose transcript differs.
					m2, _, err := to.Create(payloads[1])
					if err != nil {
						t.Fatal(err)
					}
					if _, _, err := i.Consume(m2); !errors.Is(err, auth.ErrMessage) {
						t.Fatalf("XX: answer to message 1 changed at byte %d: %v, want ErrMessage", pos, err)
					}
					continue
				}
				if err == nil {
					t.Fatalf("ik=%v message %d: bit flipped at byte %d accepted", ik, k+1, pos)
				}
				if to.State() != auth.StateFailed {
					t.Fatalf("state %v after a refused message, want failed", to.State())
				}
				if _, _, err := to.Consume(msgs[k]); !errors.Is(err, auth.ErrState) {
					t.Fatalf("the genuine message after a refused one: %v, want ErrState", err)
				}
			}
			// Truncated and extended.
			for _, bad := range [][]byte{msgs[k][:len(msgs[k])-1], append(bytes.Clone(msgs[k]), 0)} {
				i, r, _, _ := pair(t, ik)
				sides := [2]auth.Handshake{i, r}
				for j := 0; j <= k; j++ {
					if _, _, err := sides[j%2].Create(payloads[j]); err != nil {
						t.Fatal(err)
					}
					if j < k {
						if _, _, err := sides[(j+1)%2].Consume(msgs[j]); err != nil {
							t.Fatal(err)
						}
					}
				}
				if _, _, err := sides[(k+1)%2].Consume(bad); !errors.Is(err, auth.ErrMessage) {
					t.Fatalf("ik=%v message %d of %d bytes (genuine %d): %v, want ErrMessage", ik, k+1, len(bad), len(msgs[k]), err)
				}
			}
		}
	}
}

// TestReplayOtherAttempt feeds the first message of one attempt to a
// responder of another attempt (another prologue): refused, at the latest
// when the handshake would authenticate.
func TestReplayOtherAttempt(t *testing.T) {
	for _, ik := range []bool{false, true} {
		i, _, _, cr := pair(t, ik)
		m1, _, err := i.Create(nil)
		if err != nil {
			t.Fatal(err)
		}
		r, err := cr.Respond(prologueB, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = r.Consume(m1)
		if ik {
			// IK authenticates message 1 under the prologue.
			if !errors.Is(err, auth.ErrMessage) {
				t.Fatalf("IK: replayed message 1: %v, want ErrMessage", err)
			}
			continue
		}
		// XX message 1 is an ephemeral key in clear: the responder
		// answers, and the attempt fails when the initiator reads the
		// answer (its transcript has the other prologue).
		if err != nil {
			t.Fatalf("XX: %v", err)
		}
		m2, _, err := r.Create(nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := i.Consume(m2); !errors.Is(err, auth.ErrMessage) {
			t.Fatalf("XX: answer to a replayed message 1 under another prologue: %v, want ErrMessage", err)
		}
	}
}

func TestWrongResponderKeyIK(t *testing.T) {
	ci, cr, other := newCred(t, 1), newCred(t, 2), newCred(t, 5)
	hint := other.Identity()
	i, err := ci.Initiate(prologueA, &hint, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cr.Respond(prologueA, seeded(4))
	m1, _, err := i.Create([]byte("key package"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Consume(m1); !errors.Is(err, auth.ErrMessage) {
		t.Fatalf("IK message 1 for another responder's key: %v, want ErrMessage", err)
	}
	if _, err := ci.Initiate(prologueA, &auth.Identity{Provider: "kerberos", Name: "x@Y"}, seeded(3)); err == nil {
		t.Error("a hint of another provider accepted")
	}
}

func TestOutOfOrder(t *testing.T) {
	i, r, _, _ := pair(t, false)
	msgs, _ := run(t, i, r, [][]byte{nil, nil, nil})
	// A responder given message 3 or 2 first.
	for _, k := range []int{1, 2} {
		_, r, _, _ := pair(t, false)
		if _, _, err := r.Consume(msgs[k]); !errors.Is(err, auth.ErrMessage) {
			t.Errorf("responder given message %d first: %v, want ErrMessage", k+1, err)
		}
	}
	// An initiator given a message before sending its own.
	i2, _, _, _ := pair(t, false)
	if _, _, err := i2.Consume(msgs[1]); !errors.Is(err, auth.ErrState) {
		t.Errorf("initiator consuming first: %v, want ErrState", err)
	}
	// A responder creating first.
	_, r2, _, _ := pair(t, false)
	if _, _, err := r2.Create(nil); !errors.Is(err, auth.ErrState) {
		t.Errorf("responder creating first: %v, want ErrState", err)
	}
	// Message 1 twice: the second is taken as message 3 and refused.
	_, r3, _, _ := pair(t, false)
	if _, _, err := r3.Consume(msgs[0]); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r3.Create(nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r3.Consume(msgs[0]); !errors.Is(err, auth.ErrMessage) {
		t.Errorf("message 1 again in place of message 3: %v, want ErrMessage", err)
	}
}

func TestPayloadRules(t *testing.T) {
	i, _, _, _ := pair(t, false)
	if _, _, err := i.Create([]byte("secret")); err == nil || i.State() != auth.StateFailed {
		t.Errorf("XX message 1 with a payload: %v, state %v", err, i.State())
	}
	_, r, _, _ := pair(t, false)
	m1 := []byte{version, patternXX}
	m1 = append(m1, bytes.Repeat([]byte{9}, dhLen)...)
	if _, _, err := r.Consume(append(m1, "clear"...)); !errors.Is(err, auth.ErrMessage) {
		t.Errorf("XX message 1 with a payload in clear: %v, want ErrMessage", err)
	}
	i, r, _, _ = pair(t, true)
	big := make([]byte, MaxPayload)
	m, _, err := i.Create(big)
	if err != nil || len(m) > auth.MaxMessage {
		t.Fatalf("largest payload: %v, message of %d bytes", err, len(m))
	}
	if p, _, err := r.Consume(m); err != nil || len(p) != MaxPayload {
		t.Fatalf("largest payload: %v, %d bytes", err, len(p))
	}
	i, _, _, _ = pair(t, true)
	if _, _, err := i.Create(make([]byte, MaxPayload+1)); err == nil {
		t.Error("payload over MaxPayload accepted")
	}
	_, r, _, _ = pair(t, true)
	if _, _, err := r.Consume(make([]byte, auth.MaxMessage+1)); !errors.Is(err, auth.ErrMessage) {
		t.Errorf("message over MaxMessage: %v, want ErrMessage", err)
	}
	for _, hdr := range [][]byte{{}, {version}, {2, patternXX}, {version, 3}} {
		_, r, _, _ = pair(t, false)
		if _, _, err := r.Consume(append(hdr, make([]byte, dhLen)...)); !errors.Is(err, auth.ErrMessage) {
			t.Errorf("header %x: %v, want ErrMessage", hdr, err)
		}
	}
}

func TestResultBeforeDone(t *testing.T) {
	i, _, _, _ := pair(t, false)
	if _, err := i.Result(); !errors.Is(err, auth.ErrState) {
		t.Errorf("result before done: %v", err)
	}
	for s, want := range map[auth.State]string{auth.StateCreate: "create", auth.StateConsume: "consume", auth.StateDone: "done", auth.StateFailed: "failed", 9: "unknown"} {
		if s.String() != want {
			t.Errorf("%d.String() = %q, want %q", int(s), s.String(), want)
		}
	}
}

func BenchmarkHandshakeXX(b *testing.B) {
	ci, cr := newCred(b, 1), newCred(b, 2)
	b.ReportAllocs()
	for b.Loop() {
		i, _ := ci.Initiate(prologueA, nil, rand.Reader)
		r, _ := cr.Respond(prologueA, rand.Reader)
		m1, _, _ := i.Create(nil)
		r.Consume(m1)
		m2, _, _ := r.Create(nil)
		i.Consume(m2)
		m3, _, _ := i.Create([]byte("key package"))
		if _, done, err := r.Consume(m3); !done || err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHandshakeIK(b *testing.B) {
	ci, cr := newCred(b, 1), newCred(b, 2)
	id := cr.Identity()
	b.ReportAllocs()
	for b.Loop() {
		i, _ := ci.Initiate(prologueA, &id, rand.Reader)
		r, _ := cr.Respond(prologueA, rand.Reader)
		m1, _, _ := i.Create([]byte("key package"))
		r.Consume(m1)
		m2, _, _ := r.Create(nil)
		if _, done, err := i.Consume(m2); !done || err != nil {
			b.Fatal(err)
		}
	}
}

// TestInteropAndSecret runs plain flynn/noise as the initiator (with the
// header this package puts before message 1) against a responder of this
// package, and recomputes the secret from the plain side's cipher states
// and handshake hash: the secret is HKDF-SHA256(k1 ‖ k2, salt h, label),
// not something an onlooker who knows h could compute.
func TestInteropAndSecret(t *testing.T) {
	ci, cr := newCred(t, 1), newCred(t, 2)
	raw, err := fnoise.NewHandshakeState(fnoise.Config{
		CipherSuite: suite, Random: seeded(3), Pattern: fnoise.HandshakeXX, Initiator: true, Prologue: prologueA,
		StaticKeypair: fnoise.DHKey{Private: ci.key.Bytes(), Public: ci.key.pub[:]},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cr.Respond(prologueA, seeded(4))
	m1, _, _, _ := raw.WriteMessage([]byte{version, patternXX}, nil)
	if _, _, err := r.Consume(m1); err != nil {
		t.Fatal(err)
	}
	m2, _, _ := r.Create([]byte("two"))
	p2, _, _, err := raw.ReadMessage(nil, m2)
	if err != nil || string(p2) != "two" {
		t.Fatalf("plain initiator reading message 2: %v", err)
	}
	m3, cs1, cs2, err := raw.WriteMessage(nil, []byte("three"))
	if err != nil || cs1 == nil {
		t.Fatal(err)
	}
	if p3, done, err := r.Consume(m3); err != nil || !done || string(p3) != "three" {
		t.Fatalf("message 3: %v", err)
	}
	res, _ := r.Result()
	k1, k2 := cs1.UnsafeKey(), cs2.UnsafeKey()
	want, _ := hkdf.Key(sha256.New, append(k1[:], k2[:]...), raw.ChannelBinding(), "conclave auth noise v1 secret", 32)
	if !bytes.Equal(res.Secret, want) || !bytes.Equal(res.Transcript, raw.ChannelBinding()) {
		t.Error("secret or transcript differs from the plain Noise computation")
	}
	if res.Peer != ci.Identity() {
		t.Errorf("peer %v", res.Peer)
	}
}

// TestLowOrderPeerKey: a plain flynn/noise initiator that sends a static
// key of small order (zero) is refused.
func TestLowOrderPeerKey(t *testing.T) {
	cr := newCred(t, 2)
	raw, err := fnoise.NewHandshakeState(fnoise.Config{
		CipherSuite: suite, Random: seeded(3), Pattern: fnoise.HandshakeXX, Initiator: true, Prologue: prologueA,
		StaticKeypair: fnoise.DHKey{Private: make([]byte, 32), Public: make([]byte, 32)},
	})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := cr.Respond(prologueA, seeded(4))
	m1, _, _, _ := raw.WriteMessage([]byte{version, patternXX}, nil)
	if _, _, err := r.Consume(m1); err != nil {
		t.Fatal(err)
	}
	m2, _, _ := r.Create(nil)
	if _, _, _, err := raw.ReadMessage(nil, m2); err != nil {
		t.Fatal(err)
	}
	m3, _, _, err := raw.WriteMessage(nil, nil)
	if err != nil {
		// flynn/noise refuses to compute se with the zero key itself.
		t.Skipf("flynn/noise refused to write: %v", err)
	}
	if _, _, err := r.Consume(m3); !errors.Is(err, auth.ErrMessage) || r.State() != auth.StateFailed {
		t.Fatalf("static key of small order: %v, state %v", err, r.State())
	}
}

// TestDeterministic: the same randomness and calls give the same messages
// and result, as package auth requires, so that a dead handshake can be
// rebuilt by replay.
func TestDeterministic(t *testing.T) {
	for _, ik := range []bool{false, true} {
		payloads := [][]byte{nil, []byte("two"), []byte("three")}
		if ik {
			payloads = [][]byte{[]byte("one"), []byte("two")}
		}
		i1, r1, _, _ := pair(t, ik)
		m1, _ := run(t, i1, r1, payloads)
		i2, r2, _, _ := pair(t, ik)
		m2, _ := run(t, i2, r2, payloads)
		for k := range m1 {
			if !bytes.Equal(m1[k], m2[k]) {
				t.Fatalf("ik=%v: message %d differs between two runs with the same randomness", ik, k+1)
			}
		}
		a, _ := i1.Result()
		b, _ := i2.Result()
		if !bytes.Equal(a.Secret, b.Secret) {
			t.Fatalf("ik=%v: secrets differ", ik)
		}
	}
}
