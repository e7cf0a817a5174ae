package private_test

import (
	"bytes"
	"testing"
	"time"

	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/private"
)

// keyed returns a two-member group in which member 1 has taken member 0's
// KEY message (pt2pt number 0) and its first message (number 1), and the
// payloads of both.
func keyed(t testing.TB) (g *group, key, data []byte) {
	t.Helper()
	g = newGroup(t, 2, protected, private.Config{})
	g.send(0, 1, "first")
	g.run(10 * time.Millisecond)
	sent := g.sendsFrom(0, 1)
	if len(sent) != 2 || len(g.got[1]) != 1 {
		t.Fatalf("%d sends, %d delivered", len(sent), len(g.got[1]))
	}
	_, key, _ = sendPayload(t, sent[0])
	_, data, _ = sendPayload(t, sent[1])
	return g, key, data
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestHostileHeaders feeds member 1, which holds a key from member 0,
// messages with every field out of bound, each as member 0's next pt2pt
// message: each is dropped for its reason, refused as not accepted, and
// nothing is delivered. A length field is read and bounded before any
// slice or allocation of that length.
func TestHostileHeaders(t *testing.T) {
	_, key, _ := keyed(t)
	enc := key[3 : 3+32] // X25519: counter 0, enc length 32
	wrapped := key[len(key)-48:]
	uv := func(x uint64) []byte { return lt.Uv(x) }
	for _, c := range []struct {
		name, reason string
		payload      []byte
	}{
		{"unknown kind", "malformed", []byte{9, 0}},
		{"kind zero", "malformed", []byte{0}},
		{"data counter past 2^62", "malformed", cat([]byte{1}, uv(1<<62), make([]byte, 16))},
		{"data counter not minimal", "malformed", cat([]byte{1, 0x80, 0x00}, make([]byte, 16))},
		{"data shorter than a tag", "malformed", cat([]byte{1}, uv(1), make([]byte, 15))},
		{"data replayed counter", "replay", cat([]byte{1}, uv(0), make([]byte, 20))},
		{"data past the key's limit", "over_limit", cat([]byte{1}, uv(private.MaxRekeyAfter), make([]byte, 20))},
		{"data forged", "auth", cat([]byte{1}, uv(1), make([]byte, 20))},
		{"key enc length 2^40", "malformed", cat([]byte{2}, uv(1), uv(1<<40), enc)},
		{"key enc length past MaxEnc", "malformed", cat([]byte{2}, uv(1), uv(private.MaxEnc+1), make([]byte, private.MaxEnc+1), uv(48), wrapped)},
		{"key enc empty", "malformed", cat([]byte{2}, uv(1), uv(0), uv(48), wrapped)},
		{"key enc longer than the message", "malformed", cat([]byte{2}, uv(1), uv(100), enc)},
		{"key wrapped length wrong", "malformed", cat([]byte{2}, uv(1), uv(32), enc, uv(47), wrapped[:47])},
		{"key wrapped length 2^63", "malformed", cat([]byte{2}, uv(1), uv(32), enc, uv(1<<63))},
		{"key trailing byte", "malformed", cat([]byte{2}, uv(1), uv(32), enc, uv(48), wrapped, []byte{0})},
		{"key counter past 2^62", "malformed", cat([]byte{2}, uv(1<<62), uv(32), enc, uv(48), wrapped)},
		{"key replayed", "replay", key},
		{"key bound to another counter", "key", cat([]byte{2}, uv(1), uv(32), enc, uv(48), wrapped)},
		{"key garbage", "key", cat([]byte{2}, uv(1), uv(32), make([]byte, 32), uv(48), make([]byte, 48))},
	} {
		t.Run(c.name, func(t *testing.T) {
			g, _, _ := keyed(t)
			if g.feed(1, frame(0, 2, c.payload)) {
				t.Error("accepted")
			}
			if n := g.counter(1, "drop."+c.reason); n != 1 {
				t.Errorf("drop.%s = %d, want 1", c.reason, n)
			}
			if len(g.got[1]) != 1 {
				t.Errorf("delivered %v", g.got[1])
			}
		})
	}
}

// TestHostileKeepsTheStream: after hostile messages, member 0's real
// messages still arrive (pt2pt numbers them past the forgeries).
func TestHostileKeepsTheStream(t *testing.T) {
	g, key, data := keyed(t)
	g.feed(1, frame(0, 2, key))
	g.feed(1, frame(0, 3, data))
	// pt2pt has taken numbers 2 and 3 from the attacker: member 0's next
	// messages, numbered 2 and 3 too, are dropped by pt2pt as duplicates,
	// the fifth onwards delivered.
	g.send(0, 1, "x2", "x3", "x4")
	g.run(20 * time.Millisecond)
	if last := g.got[1][len(g.got[1])-1]; last != "0:x4" {
		t.Errorf("delivered %v, want x4 last", g.got[1])
	}
}

// FuzzUp feeds member 1, which holds a key from member 0, one message
// from member 0 as pt2pt's next: it never panics, and delivers only the
// one message member 0 sealed, only when given exactly its bytes.
func FuzzUp(f *testing.F) {
	_, key, data := keyed(f)
	g0, _, _ := keyed(f)
	g0.send(0, 1, "second")
	sent := g0.sendsFrom(0, 1)
	_, second, _ := sendPayload(f, sent[len(sent)-1])
	f.Add(second)
	f.Add(key)
	f.Add(data)
	f.Add([]byte{2, 1, 32})
	f.Fuzz(func(t *testing.T, payload []byte) {
		g, _, _ := keyed(t)
		g.feed(1, frame(0, 2, payload))
		switch got := g.got[1][1:]; {
		case len(got) == 0:
		case len(got) == 1 && got[0] == "0:second" && bytes.Equal(payload, second):
		default:
			t.Fatalf("delivered %q", got)
		}
	})
}
