package private_test

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/wire"
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

// keyParts is a KEY message's fields.
type keyParts struct {
	counter           uint64
	enc, wrapped, sig []byte
}

func parseKey(t testing.TB, b []byte) keyParts {
	t.Helper()
	r := wire.NewReader(b)
	var k keyParts
	if r.Byte() != 2 {
		t.Fatal("not a KEY message")
	}
	k.counter = r.Uvarint()
	k.enc = r.Bytes(int(r.Uvarint()))
	k.wrapped = r.Bytes(int(r.Uvarint()))
	k.sig = r.Bytes(int(r.Uvarint()))
	if err := r.Done(); err != nil {
		t.Fatal(err)
	}
	return k
}

// keyMsg encodes a KEY message with the given fields.
func keyMsg(counter uint64, enc, wrapped, sig []byte) []byte {
	return cat([]byte{2}, lt.Uv(counter, uint64(len(enc))), enc, lt.Uv(uint64(len(wrapped))), wrapped, lt.Uv(uint64(len(sig))), sig)
}

// TestHostileHeaders feeds member 1, which holds a key from member 0,
// messages with every field out of bound, each as member 0's next pt2pt
// message: each is dropped for its reason, refused as not accepted, and
// nothing is delivered. A length field is read and bounded before any
// slice or allocation of that length.
func TestHostileHeaders(t *testing.T) {
	g0, key, _ := keyed(t)
	k := parseKey(t, key)
	enc, wrapped, sig := k.enc, k.wrapped, k.sig
	// Member 0 itself signs a pair secret that does not open.
	junk := make([]byte, len(wrapped))
	junkSig, err := g0.keys[0].SenderSign("conclave private key", cat(pairContext(g0.keys[0].epoch, 0, 1, 1), enc, junk))
	if err != nil {
		t.Fatal(err)
	}
	uv := func(x ...uint64) []byte { return lt.Uv(x...) }
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
		{"key enc length 2^40", "malformed", cat([]byte{2}, uv(1, 1<<40), enc)},
		{"key enc length past MaxEnc", "malformed", keyMsg(1, make([]byte, private.MaxEnc+1), wrapped, sig)},
		{"key enc empty", "malformed", keyMsg(1, nil, wrapped, sig)},
		{"key enc longer than the message", "malformed", cat([]byte{2}, uv(1, 100), enc)},
		{"key wrapped length wrong", "malformed", keyMsg(1, enc, wrapped[:47], sig)},
		{"key wrapped length 2^63", "malformed", cat([]byte{2}, uv(1, 32), enc, uv(1<<63))},
		{"key signature length past MaxSignature", "malformed", keyMsg(1, enc, wrapped, make([]byte, private.MaxSignature+1))},
		{"key signature empty", "malformed", keyMsg(1, enc, wrapped, nil)},
		{"key signature missing", "malformed", cat([]byte{2}, uv(1, 32), enc, uv(48), wrapped)},
		{"key trailing byte", "malformed", cat(keyMsg(1, enc, wrapped, sig), []byte{0})},
		{"key counter past 2^62", "malformed", keyMsg(1<<62, enc, wrapped, sig)},
		{"key replayed", "replay", key},
		{"key bound to another counter", "signature", keyMsg(1, enc, wrapped, sig)},
		{"key signature altered", "signature", keyMsg(0+1, enc, wrapped, append(bytes.Clone(sig[:len(sig)-1]), sig[len(sig)-1]^1))},
		{"key signed but not opening", "key", keyMsg(1, enc, junk, junkSig)},
		{"key garbage", "signature", keyMsg(1, make([]byte, 32), make([]byte, 48), make([]byte, 64))},
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

// pairContext is the context that binds a pair key (see the package
// documentation).
func pairContext(epoch uint64, from, to uint32, start uint64) []byte {
	var ctx [40]byte
	binary.BigEndian.PutUint64(ctx[0:], lt.Group)
	binary.BigEndian.PutUint64(ctx[8:], lt.ViewID)
	binary.BigEndian.PutUint64(ctx[16:], epoch)
	binary.BigEndian.PutUint32(ctx[24:], from)
	binary.BigEndian.PutUint32(ctx[28:], to)
	binary.BigEndian.PutUint64(ctx[32:], start)
	return ctx[:]
}

// TestKeyInAnotherName: a member (2) that makes a pair key for the pair
// (0, 1) as member 0 would, HPKE to member 1's leaf key and all, and
// injects it and a message under it into member 0's stream to member 1,
// gets nothing delivered: it cannot sign as member 0. Were the signature
// not checked, member 1 would deliver the message as member 0's. The key
// is refused, and member 0's own messages of those numbers are then
// delivered.
func TestKeyInAnotherName(t *testing.T) {
	g := newGroup(t, 3, protected, private.Config{})
	insider := g.keys[2]
	ctx := pairContext(insider.epoch, 0, 1, 0)
	secret := make(crypto.Secret, insider.suite.HashSize())
	enc, wrapped, err := insider.suite.EncryptWithLabel(insider.pubs[1], "conclave private pair", ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := insider.SenderSign("conclave private key", cat(ctx, enc, wrapped))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := insider.suite.ExpandWithLabel(secret, "conclave private key", ctx, insider.suite.KeySize())
	nonce, _ := insider.suite.ExpandWithLabel(secret, "conclave private nonce", ctx, insider.suite.NonceSize())
	aead, err := insider.suite.NewAEAD(key)
	if err != nil {
		t.Fatal(err)
	}
	aad := cat(ctx[:32], []byte{1}, make([]byte, 8))
	data := cat([]byte{1, 0}, aead.Seal(nil, nonce, []byte("from 0, honest"), aad))
	g.feed(1, frame(0, 0, keyMsg(0, enc, wrapped, sig)))
	g.feed(1, frame(0, 1, data))
	g.run(10 * time.Millisecond)
	if len(g.got[1]) != 0 {
		t.Errorf("member 1 delivered %v, forged in member 0's name", g.got[1])
	}
	if g.counter(1, "drop.signature") != 1 || g.counter(1, "refused") != 1 {
		t.Errorf("drop.signature %d, refused %d, want 1 and 1", g.counter(1, "drop.signature"), g.counter(1, "refused"))
	}
	g.send(0, 1, "real")
	g.run(30 * time.Millisecond)
	if !slices.Equal(g.got[1], []string{"0:real"}) {
		t.Errorf("member 1 delivered %v, want member 0's message", g.got[1])
	}
}

// TestHostileKeepsTheStream: after hostile messages in place of the next
// numbers of member 0's stream, member 0's real messages of those numbers
// still arrive: pt2pt took the attacker's first, but this layer refuses
// them, and pt2pt fetches the real ones.
func TestHostileKeepsTheStream(t *testing.T) {
	g, key, data := keyed(t)
	g.feed(1, frame(0, 2, key))
	g.feed(1, frame(0, 3, data))
	g.send(0, 1, "x2", "x3", "x4")
	g.run(30 * time.Millisecond)
	if got := g.got[1][len(g.got[1])-3:]; !slices.Equal(got, []string{"0:x2", "0:x3", "0:x4"}) {
		t.Errorf("delivered %v, want x2 x3 x4 last", g.got[1])
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

// TestKeyReplayedInItsMessagesPlace: an insider replays member 0's KEY
// message, signature and all, as pt2pt's next message from member 0, and
// it reaches member 1 before the real one of that number, the message the
// key seals. The replay is refused (a sender's next key starts past its
// current one), and the real message is fetched and delivered.
func TestKeyReplayedInItsMessagesPlace(t *testing.T) {
	g := newGroup(t, 2, protected, private.Config{})
	var key []byte
	g.alter = func(d datagram) []byte {
		seq, payload, ok := sendPayload(t, d.data)
		switch {
		case !ok || d.from != 0:
		case seq == 0 && key == nil:
			key = bytes.Clone(payload)
		case seq == 1 && key != nil:
			g.feed(1, frame(0, 1, key))
			key = []byte{}
		}
		return d.data
	}
	g.send(0, 1, "sealed")
	g.run(30 * time.Millisecond)
	if key == nil || len(key) != 0 {
		t.Fatal("the key was not replayed")
	}
	if !slices.Equal(g.got[1], []string{"0:sealed"}) || g.counter(1, "drop.replay") != 1 || g.counter(1, "refused") != 1 {
		t.Errorf("delivered %v, drop.replay %d, refused %d", g.got[1], g.counter(1, "drop.replay"), g.counter(1, "refused"))
	}
}
