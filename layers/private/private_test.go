package private_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/private"
)

// sendPayload splits a point-to-point datagram into its pt2pt sequence
// number and what the private layer put in it; ok is false for anything
// else (acknowledgements, casts).
func sendPayload(t testing.TB, data []byte) (seq uint64, payload []byte, ok bool) {
	t.Helper()
	h, err := bottom.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if h.Type != layers.ESend {
		return 0, nil, false
	}
	r := wire.NewReader(data[h.Len:])
	seq = r.Uvarint()
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return seq, r.Rest(), true
}

// frame makes a datagram that carries payload as member from's pt2pt
// message number seq.
func frame(from int, seq uint64, payload []byte) []byte {
	return lt.Datagram(from, layers.ESend, lt.Uv(seq), payload)
}

// sendsFrom lists the point-to-point datagrams from one member to another,
// as the network saw them.
func (g *group) sendsFrom(from, to int) [][]byte {
	var out [][]byte
	for _, d := range g.seen {
		if d.from == from && d.to == to {
			if _, _, ok := sendPayload(g.t, d.data); ok {
				out = append(out, d.data)
			}
		}
	}
	return out
}

// TestSendDelivered: messages to another member arrive in order, after one
// key was established; a send to oneself is delivered unsealed; casts pass.
func TestSendDelivered(t *testing.T) {
	g := newGroup(t, 3, protected, private.Config{})
	g.send(0, 1, "one", "two", "three")
	g.send(0, 0, "me")
	g.members[2].Cast([]byte("all"))
	g.collect(2)
	g.run(20 * time.Millisecond)
	if want := []string{"0:one", "0:two", "0:three"}; !slices.Equal(g.got[1], want) {
		t.Errorf("member 1 delivered %v, want %v", g.got[1], want)
	}
	if want := []string{"0:me"}; !slices.Equal(g.got[0], want) {
		t.Errorf("member 0 delivered %v to itself, want %v", g.got[0], want)
	}
	if len(g.got[2]) != 0 {
		t.Errorf("member 2 delivered %v of messages not for it", g.got[2])
	}
	if s, a := g.counter(0, "keys_sent"), g.counter(1, "keys_accepted"); s != 1 || a != 1 {
		t.Errorf("keys sent %d, accepted %d, want 1 and 1", s, a)
	}
	if n := g.members[1].Drops(); n != 0 {
		t.Errorf("member 1 dropped %d", n)
	}
}

// TestThirdMemberReadsNothing: a member that holds every key of the epoch
// but the recipient's leaf private key, and sees every datagram between two
// others, finds none of the message's bytes in them, and fed them as if
// they were for it, delivers nothing. Over the plain stack it reads the
// message: the test is run on both.
func TestThirdMemberReadsNothing(t *testing.T) {
	secret := "the launch code is 0000"
	for _, c := range []struct {
		names     []string
		protected bool
	}{{protected, true}, {plain, false}} {
		g := newGroup(t, 3, c.names, private.Config{})
		g.send(0, 1, secret)
		g.run(10 * time.Millisecond)
		if !slices.Equal(g.got[1], []string{"0:" + secret}) {
			t.Fatalf("%v: member 1 delivered %v", c.names, g.got[1])
		}
		inClear := false
		for _, d := range g.seen {
			inClear = inClear || bytes.Contains(d.data, []byte(secret))
		}
		for _, d := range g.sendsFrom(0, 1) {
			g.feed(2, d)
		}
		g.run(10 * time.Millisecond)
		read := len(g.got[2]) != 0
		if c.protected && (inClear || read) {
			t.Errorf("a third member reads a Send between two others: in clear %v, delivered %v", inClear, g.got[2])
		}
		if !c.protected && !read {
			t.Errorf("over the plain stack the third member should read the message, delivered %v", g.got[2])
		}
		if c.protected && g.counter(2, "drop.signature") == 0 {
			t.Error("the third member did not count the key that was not for it")
		}
	}
}

// TestReplayToAnotherMember: a member's message to one member, replayed
// into its stream to another (who has a key from the same sender) at the
// very place pt2pt expects, is not delivered: the pair keys differ.
func TestReplayToAnotherMember(t *testing.T) {
	for _, c := range []struct {
		names     []string
		protected bool
	}{{protected, true}, {plain, false}} {
		g := newGroup(t, 3, c.names, private.Config{})
		g.send(0, 2, "for two")
		g.send(0, 1, "for one", "for one again")
		g.run(10 * time.Millisecond)
		to1, to2 := g.sendsFrom(0, 1), g.sendsFrom(0, 2)
		// Member 2 has had len(to2) of member 0's messages; the replay
		// is the last message to member 1, renumbered as the next one.
		_, payload, _ := sendPayload(t, to1[len(to1)-1])
		g.feed(2, frame(0, uint64(len(to2)), payload))
		g.run(10 * time.Millisecond)
		delivered := slices.Contains(g.got[2], "0:for one again")
		if c.protected && delivered {
			t.Errorf("member 2 delivered a message replayed from member 1's stream: %v", g.got[2])
		}
		if !c.protected && !delivered {
			t.Errorf("over the plain stack the replay should be delivered: %v", g.got[2])
		}
		if c.protected && g.counter(2, "drop.auth") != 1 {
			t.Errorf("drop.auth %d, want 1", g.counter(2, "drop.auth"))
		}
	}
}

// TestTamperedRefetched: a flipped bit in a sealed message, or in the
// signed KEY message, gets that copy dropped and refused: pt2pt forgets
// it and asks again, and the real one, retransmitted, is delivered.
func TestTamperedRefetched(t *testing.T) {
	for _, c := range []struct {
		name   string
		nth    int // which of member 0's sends to member 1 to change: 0 the KEY
		reason string
	}{
		{"pair key", 0, "signature"},
		{"message", 1, "auth"},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := newGroup(t, 2, protected, private.Config{})
			nth := 0
			g.alter = func(d datagram) []byte {
				if _, _, ok := sendPayload(t, d.data); !ok || d.from != 0 {
					return d.data
				}
				if nth++; nth-1 == c.nth {
					d.data[len(d.data)-1] ^= 0x40
				}
				return d.data
			}
			g.send(0, 1, "hello")
			g.run(30 * time.Millisecond)
			if !slices.Equal(g.got[1], []string{"0:hello"}) {
				t.Errorf("delivered %v after a tampered copy, want the real one", g.got[1])
			}
			if g.counter(1, "drop."+c.reason) != 1 || g.counter(1, "refused") != 1 {
				t.Errorf("drop.%s = %d, refused %d, want 1 and 1", c.reason, g.counter(1, "drop."+c.reason), g.counter(1, "refused"))
			}
		})
	}
}

// TestReplayInStream: a message or key already taken, injected again into
// the same stream under pt2pt's next number, is dropped as a replay and
// refused, so that pt2pt takes the sender's own message of that number
// when it comes.
func TestReplayInStream(t *testing.T) {
	g := newGroup(t, 2, protected, private.Config{})
	g.send(0, 1, "once")
	g.run(10 * time.Millisecond)
	sent := g.sendsFrom(0, 1)
	for i, d := range sent {
		_, payload, _ := sendPayload(t, d)
		if g.feed(1, frame(0, uint64(len(sent)), payload)) {
			t.Errorf("replay %d accepted", i)
		}
	}
	g.send(0, 1, "twice")
	g.run(10 * time.Millisecond)
	if !slices.Equal(g.got[1], []string{"0:once", "0:twice"}) {
		t.Errorf("delivered %v, want each message once", g.got[1])
	}
	if n, r := g.counter(1, "drop.replay"), g.counter(1, "refused"); n != 2 || r != 2 {
		t.Errorf("drop.replay %d, refused %d, want 2 and 2", n, r)
	}
}

// TestRekey: after RekeyAfter messages the sender establishes a new key,
// and the receiver follows without a loss.
func TestRekey(t *testing.T) {
	g := newGroup(t, 2, protected, private.Config{RekeyAfter: 3})
	var want []string
	for _, m := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		g.send(0, 1, m)
		want = append(want, "0:"+m)
	}
	g.run(10 * time.Millisecond)
	if !slices.Equal(g.got[1], want) {
		t.Errorf("delivered %v, want %v", g.got[1], want)
	}
	if s, a := g.counter(0, "keys_sent"), g.counter(1, "keys_accepted"); s != 3 || a != 3 {
		t.Errorf("keys sent %d, accepted %d, want 3 and 3", s, a)
	}
}

// TestNoKeysRefuses: without key material a Send to another member is
// refused, never sent readable.
func TestNoKeysRefuses(t *testing.T) {
	g := newGroupKeys(t, protected, private.Config{}, make([]*fakeKeys, 2))
	g.send(0, 1, "readable?")
	g.run(10 * time.Millisecond)
	if len(g.seen) != 0 || len(g.got[1]) != 0 {
		t.Errorf("sent %d datagrams, delivered %v", len(g.seen), g.got[1])
	}
	if g.counter(0, "unprotected") != 1 {
		t.Error("the refusal was not counted")
	}
}

// TestEverySuite: the pair keys work with every suite's KEM, X-Wing's 1120
// byte encapsulation included, within the datagram size.
func TestEverySuite(t *testing.T) {
	for _, id := range suitesOffered(t) {
		t.Run(id.String(), func(t *testing.T) {
			g := newGroupKeys(t, protected, private.Config{}, groupKeys(t, id, 2))
			big := bytes.Repeat([]byte{'x'}, layers.DefaultMaxDatagram-layers.HeadRoom)
			g.members[0].Send(1, big)
			g.collect(0)
			g.run(10 * time.Millisecond)
			if len(g.got[1]) != 1 || len(g.got[1][0]) != len(big)+2 {
				t.Fatalf("delivered %d messages", len(g.got[1]))
			}
			for _, d := range g.seen {
				if len(d.data) > layers.DefaultMaxDatagram {
					t.Errorf("a datagram of %d bytes", len(d.data))
				}
			}
		})
	}
}

// TestOverheadWithinHeadRoom: a DATA message grows by at most MaxOverhead.
func TestOverheadWithinHeadRoom(t *testing.T) {
	g := newGroup(t, 2, protected, private.Config{})
	msg := []byte("sixty-four bytes of application payload, give or take a few....")
	g.members[0].Send(1, msg)
	g.collect(0)
	sent := g.sendsFrom(0, 1)
	_, payload, _ := sendPayload(t, sent[len(sent)-1])
	if grow := len(payload) - len(msg); grow > private.MaxOverhead || grow <= 16 {
		t.Errorf("a message grew by %d bytes, stated at most %d", grow, private.MaxOverhead)
	}
}

// TestKeyTooLarge: with datagrams too small for X-Wing's KEY message and
// the headers below it, the sender refuses the Send rather than jam pt2pt's
// stream with a datagram the receiver would drop.
func TestKeyTooLarge(t *testing.T) {
	for _, c := range []struct {
		maxDatagram int
		refused     bool
	}{{1000, true}, {layers.DefaultMaxDatagram, false}} {
		ks := groupKeys(t, crypto.ConclaveXWingAES256GCMSHA256Ed25519, 2)
		cfg := layers.Config{View: layers.View{Group: lt.Group, ID: lt.ViewID, N: 2}, MaxDatagram: c.maxDatagram, Keys: ks[0]}
		s, err := compose.Build(cfg, protected, compose.Options{})
		if err != nil {
			t.Fatal(err)
		}
		s.Send(1, []byte("x"))
		sent := len(s.Ready().Packets)
		if c.refused && (sent != 0 || s.Counter("private", "key_too_large") != 1) {
			t.Errorf("max datagram %d: %d datagrams sent, key_too_large %d", c.maxDatagram, sent, s.Counter("private", "key_too_large"))
		}
		if !c.refused && sent != 2 {
			t.Errorf("max datagram %d: %d datagrams sent, want the KEY and the message", c.maxDatagram, sent)
		}
	}
}

// TestKeyLostOnce: the KEY message's datagram is lost, then a message
// behind it: pt2pt recovers both, in order, and the receiver opens the
// message under the key, which it always has first.
func TestKeyLostOnce(t *testing.T) {
	g := newGroup(t, 2, protected, private.Config{})
	lost := 0
	g.alter = func(d datagram) []byte {
		if _, _, ok := sendPayload(t, d.data); ok && d.from == 0 && lost < 2 {
			lost++
			return nil
		}
		return d.data
	}
	g.send(0, 1, "a", "b")
	g.run(50 * time.Millisecond)
	if want := []string{"0:a", "0:b"}; !slices.Equal(g.got[1], want) {
		t.Errorf("delivered %v, want %v", g.got[1], want)
	}
	if lost != 2 || g.members[1].Drops() != 0 {
		t.Errorf("lost %d, drops %d", lost, g.members[1].Drops())
	}
}
