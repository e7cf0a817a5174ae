package sign_test

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/sign"
)

// small is the least stack the layer works in: datagrams the tests make
// are a bottom header, mnak's sequence number, then this layer's header.
var small = []string{"bottom", "mnak", "sign"}

// target is member 0 of two, under attack; sender is member 1's stack,
// whose genuine datagrams the tests take apart.
func target(t testing.TB, cfg sign.Config) (*lt.Member, *layers.Stack) {
	ks := groupKeys(t, 2)
	s := build(t, 0, 2, small, withSign(cfg), ks[0])
	return &lt.Member{T: t, S: s, N: 2}, build(t, 1, 2, small, withSign(cfg), ks[1])
}

// genuine returns the sign header and payload of the datagrams sender
// makes for its multicasts of msgs, signed as one batch.
func genuine(t testing.TB, sender *layers.Stack, msgs ...string) [][]byte {
	t.Helper()
	for _, m := range msgs {
		sender.Cast([]byte(m))
	}
	sender.Tick(sender.Now() + time.Hour) // the batch is due
	sender.Flush()
	var out [][]byte
	for _, p := range sender.Ready().Packets {
		r := wire.NewReader(p.Data)
		r.Bytes(1 + 8) // version, group
		r.Uvarint()    // view
		r.Uvarint()    // sender
		if layers.Type(r.Byte()) != layers.ECast {
			continue
		}
		r.Uvarint() // mnak's sequence number
		out = append(out, bytes.Clone(r.Rest()))
	}
	sender.Advance()
	if len(out) != len(msgs) {
		t.Fatalf("%d datagrams for %d multicasts", len(out), len(msgs))
	}
	return out
}

func cast(seq uint64, signPart ...[]byte) []byte {
	return lt.Datagram(1, layers.ECast, append([][]byte{lt.Uv(seq)}, signPart...)...)
}

func more(payload string) []byte { return append([]byte{0}, payload...) }

func TestHostileNumbersAreBounded(t *testing.T) {
	sig := bytes.Repeat([]byte{7}, 64)
	for _, c := range []struct {
		name   string
		msgs   [][]byte // sign headers and payloads, from seq 0
		reason string   // counted drop of the last
	}{
		{"count 2^64-1", [][]byte{append(append([]byte{1}, lt.Uv(math.MaxUint64, 64)...), append(sig, 'x')...)}, "malformed"},
		{"count above MaxBatch", [][]byte{append(append([]byte{1}, lt.Uv(sign.DefaultMaxBatch+1, 64)...), append(sig, 'x')...)}, "malformed"},
		{"count 0", [][]byte{append(append([]byte{1}, lt.Uv(0, 64)...), append(sig, 'x')...)}, "malformed"},
		{"signature length 2^64-1", [][]byte{append(append([]byte{1}, lt.Uv(1, math.MaxUint64)...), append(sig, 'x')...)}, "malformed"},
		{"signature longer than the message", [][]byte{append(append([]byte{1}, lt.Uv(1, 100)...), sig...)}, "malformed"},
		{"unknown mark", [][]byte{{2, 'x'}}, "malformed"},
		{"count beyond what is held", [][]byte{more("a"), append(append([]byte{1}, lt.Uv(5, 64)...), append(sig, 'x')...)}, "bad_proof"},
		{"a signature by nobody", [][]byte{more("a"), append(append([]byte{1}, lt.Uv(2, 64)...), append(sig, 'x')...)}, "forged"},
	} {
		t.Run(c.name, func(t *testing.T) {
			m, _ := target(t, sign.Config{})
			for i, b := range c.msgs {
				ok := m.Feed(cast(uint64(i), b))
				if last := i == len(c.msgs)-1; last && ok {
					t.Fatal("the stack accepted the datagram")
				}
			}
			if len(m.Got) != 0 {
				t.Fatalf("delivered %v", m.Got)
			}
			if m.Drops("sign", c.reason) != 1 {
				t.Fatalf("not counted as %s: %v", c.reason, m.S.Counters())
			}
			if f := signPrint(m.S); f > 16*128 {
				t.Fatalf("%d bytes still held", f)
			}
		})
	}
}

// However many messages an attacker sends without a signature, a member
// holds at most MaxBatch of them per origin: one more shows that the
// message that ended their batch was not the real one, and they are
// refused (mnak fetches them again). What is held after UnsignedTimeout
// is refused too.
func TestUnsignedMessagesAreBounded(t *testing.T) {
	const maxBatch = 16
	m, _ := target(t, sign.Config{MaxBatch: maxBatch, UnsignedTimeout: time.Second})
	payload := string(bytes.Repeat([]byte{'p'}, 1000))
	for i := range maxBatch {
		m.Feed(cast(uint64(i), more(payload)))
	}
	if f := signPrint(m.S); f < maxBatch*1000 {
		t.Fatalf("footprint %d: the held messages are not counted", f)
	}
	for i := maxBatch; i < 100; i++ {
		m.Feed(cast(uint64(i), more(payload)))
		m.CheckFootprint()
		if f, b := signPrint(m.S), m.S.Layer("sign").(layers.Footprinter).FootprintBound(); f > b {
			t.Fatalf("footprint %d above the bound %d", f, b)
		}
	}
	if m.Drops("sign", "overlong") != 1 || m.S.Counter("mnak", "refused") != 1 {
		t.Fatalf("counters %v", m.S.Counters())
	}
	// mnak asks again from #0: the attacker's answers are held again.
	for i := range 4 {
		m.Feed(cast(uint64(i), more(payload)))
	}
	m.Tick(time.Second)
	if f := signPrint(m.S); f > maxBatch*128 || m.Drops("sign", "unsigned_timeout") != 4 || m.S.Counter("mnak", "refused") != 2 {
		t.Fatalf("after the timeout: footprint %d, counters %v", f, m.S.Counters())
	}
	if len(m.Got) != 0 {
		t.Fatalf("delivered %v", m.Got)
	}
}

// A genuine batch is delivered; the same bytes anywhere else in the
// origin's stream are not: the signature covers the batch's place.
func TestReplayedBatchIsForged(t *testing.T) {
	m, sender := target(t, sign.Config{})
	b := genuine(t, sender, "one", "two")
	m.Feed(cast(0, b[0]))
	if !m.Feed(cast(1, b[1])) || len(m.Got) != 2 || string(m.Got[1].Data) != "two" {
		t.Fatalf("genuine batch: delivered %v", m.Got)
	}
	m.Feed(cast(2, b[0]))
	if m.Feed(cast(3, b[1])) || len(m.Got) != 2 || m.Drops("sign", "forged") != 1 {
		t.Fatalf("replayed batch: delivered %v, counters %v", m.Got, m.S.Counters())
	}
}

// Messages an attacker slips in, in place of a genuine batch, make the
// next genuine batch fail to cover what is held: all of it is refused,
// and when mnak has fetched the real messages again both batches are
// delivered.
func TestGenuineBatchAfterJunk(t *testing.T) {
	m, sender := target(t, sign.Config{})
	a := genuine(t, sender, "x", "y") // seq 0 and 1, lost to the attacker's
	b := genuine(t, sender, "three", "four")
	m.Feed(cast(0, more("junk")))
	m.Feed(cast(1, more("junk")))
	m.Feed(cast(2, b[0]))
	m.Feed(cast(3, b[1]))
	if len(m.Got) != 0 || m.Drops("sign", "bad_proof") != 1 || m.S.Counter("mnak", "refused") != 1 {
		t.Fatalf("delivered %v, counters %v", m.Got, m.S.Counters())
	}
	for i, d := range append(a, b...) {
		m.Feed(cast(uint64(i), d))
	}
	if got := delivered(m); got != "x y three four" {
		t.Fatalf("delivered %q after the real messages came again", got)
	}
}

// delivered is what m delivered, space-separated.
func delivered(m *lt.Member) string {
	var out []string
	for _, d := range m.Got {
		out = append(out, string(d.Data))
	}
	return strings.Join(out, " ")
}

// FuzzUp feeds member 0 arbitrary messages from member 1's stream: it
// must never panic, never hold more than it states, and never deliver what
// member 1 did not sign.
func FuzzUp(f *testing.F) {
	_, sender := target(f, sign.Config{})
	for _, b := range genuine(f, sender, "one", "two", "three") {
		f.Add(b, []byte{}, []byte{})
	}
	b := genuine(f, sender, "four", "five")
	f.Add(b[0], b[1], []byte{})
	f.Add(more("x"), []byte{1, 2, 64}, []byte{0})
	f.Fuzz(func(t *testing.T, a, b, c []byte) {
		m, _ := target(t, sign.Config{MaxBatch: 4})
		for i, d := range [][]byte{a, b, c} {
			m.Feed(cast(uint64(i), d))
			m.CheckFootprint()
		}
		m.Tick(time.Minute)
		m.CheckFootprint()
		for _, d := range m.Got {
			switch string(d.Data) {
			case "one", "two", "three", "four", "five":
			default:
				t.Fatalf("delivered %q, which member 1 never signed", d.Data)
			}
		}
	})
}

// signPrint is the layer's own footprint: held message bytes and slots.
func signPrint(s *layers.Stack) int { return s.Layer("sign").(layers.Footprinter).Footprint() }
