package mnak_test

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mnak"
)

// cast is a multicast datagram from member from with sequence number seq.
func cast(from int, seq uint64, body string) []byte {
	return lt.Datagram(from, layers.ECast, lt.Uv(seq), []byte{0}, []byte(body))
}

// TestCastSeqHostile feeds multicasts whose sequence numbers an attacker
// chose: each is dropped and counted or accepted exactly as the receive
// window (MaxHeld) says, and none panics or grows memory past the bound.
func TestCastSeqHostile(t *testing.T) {
	const w = mnak.DefaultMaxHeld
	for _, c := range []struct {
		name     string
		seq      uint64
		accepted bool
	}{
		{"max uint64", math.MaxUint64, false},
		{"max uint64 - 1", math.MaxUint64 - 1, false},
		{"65535 beyond the window", w + 65535, false},
		{"window edge, first outside", w, false},
		{"window edge, last inside", w - 1, true},
		{"next", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 3, nil, compose.Options{})
			if got := m.Feed(cast(1, c.seq, "x")); got != c.accepted {
				t.Fatalf("accepted = %v, want %v", got, c.accepted)
			}
			if drops := m.Drops("mnak", "window"); (drops == 1) == c.accepted {
				t.Fatalf("%d window drops", drops)
			}
			m.CheckFootprint()
		})
	}
}

// TestCastDuplicateAfterDelivery checks that a replay of a delivered
// multicast is harmless: accepted, counted, not delivered again.
func TestCastDuplicateAfterDelivery(t *testing.T) {
	m := lt.New(t, 3, nil, compose.Options{})
	m.Feed(cast(1, 0, "real"))
	if !m.Feed(cast(1, 0, "forged")) {
		t.Fatal("a duplicate was refused as hostile")
	}
	if len(m.Got) != 1 || string(m.Got[0].Data) != "real" {
		t.Fatalf("deliveries %v", m.Got)
	}
	if m.S.Counter("mnak", "duplicates") != 1 {
		t.Fatal("duplicate not counted")
	}
}

// TestCastHeldNeverReplaced checks that a message held out of order is not
// replaced by a forged one with the same number, however it arrives.
func TestCastHeldNeverReplaced(t *testing.T) {
	m := lt.New(t, 3, nil, compose.Options{})
	m.Feed(cast(1, 1, "real"))
	m.Feed(cast(1, 1, "forged"))
	retrans := lt.Datagram(2, layers.ESendUnrel, []byte{2}, lt.Uv(1, 1), []byte{0}, []byte("forged"))
	m.Feed(retrans)
	m.Feed(cast(1, 0, "first"))
	if len(m.Got) != 2 || string(m.Got[1].Data) != "real" {
		t.Fatalf("deliveries %v", m.Got)
	}
}

// TestWindowMemoryShrinksBack checks that a multicast at the window's edge
// reserves memory only until the stream has moved past it.
func TestWindowMemoryShrinksBack(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	base := m.S.Footprint()
	m.Feed(cast(1, mnak.DefaultMaxHeld-1, "edge"))
	grown := m.S.Footprint()
	if grown <= base {
		t.Fatal("footprint did not grow")
	}
	m.CheckFootprint()
	for seq := range uint64(mnak.DefaultMaxHeld) {
		m.Feed(cast(1, seq, "x"))
	}
	// Let stability run: member 1 reports it has its own messages.
	gossip := lt.Datagram(1, layers.ECastUnrel, []byte{1}, lt.Uv(2, 0, mnak.DefaultMaxHeld))
	m.Feed(gossip)
	m.Tick(time.Second)
	m.Tick(mnak.TrimInterval)
	if f := m.S.Footprint(); f >= grown/4 {
		t.Fatalf("footprint %d after the stream moved on, %d at the edge, %d before", f, grown, base)
	}
}

// TestNakFlood feeds one datagram packed with NAKs, each asking again for
// the same 256 messages: the member answers each message once per
// NakInterval, so what it sends for the whole flood is what one honest NAK
// costs (within 10% for headers), and a second flood in the same interval
// costs nothing.
func TestNakFlood(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	const size = 1000
	for i := range 256 {
		m.Cast(bytes.Repeat([]byte{byte(i)}, size))
	}
	m.Tick(time.Millisecond)
	m.Reset()
	body := append([]byte{1, 0, 1, 0}, lt.Uv(256)...) // NAK origin 0, one run: 0, 256
	nak := append([]byte{byte(layers.ESendUnrel), byte(len(body))}, body...)
	var flood []byte
	for len(flood)+len(nak) <= layers.DefaultMaxDatagram-30 {
		flood = append(flood, nak...)
	}
	d := lt.Datagram(1, layers.EBundle, flood)
	if !m.Feed(d) {
		t.Fatal("flood refused")
	}
	limit := 256 * size * 11 / 10
	if m.Bytes > limit || m.S.Counter("mnak", "retransmitted") != 256 {
		t.Fatalf("%d bytes out (%d retransmissions) for %d in, limit %d",
			m.Bytes, m.S.Counter("mnak", "retransmitted"), len(d), limit)
	}
	t.Logf("flood of %d NAKs in %d bytes: %d bytes out", len(flood)/len(nak), len(d), m.Bytes)
	m.Reset()
	m.Feed(d)
	if m.Bytes != 0 {
		t.Fatalf("second flood in the same interval: %d bytes out", m.Bytes)
	}
	m.Tick(mnak.DefaultNakInterval)
	m.Reset()
	m.Feed(d)
	if m.Bytes > limit || m.Bytes < 256*size {
		t.Fatalf("flood in the next interval: %d bytes out", m.Bytes)
	}
}

// TestForgedMaxSeen checks forged gossip values: a huge claim, whether
// about another member's stream or the origin's own, is refused whole and
// counted, so this member asks for nothing; a claim within the window by
// the origin itself makes it ask for just what was claimed.
func TestForgedMaxSeen(t *testing.T) {
	for _, c := range []struct {
		name     string
		reporter int
		count    uint64
		refused  bool
		naks     bool
	}{
		{"another member's huge claim", 2, math.MaxUint64 - 1, true, false},
		{"the origin's own huge claim", 1, math.MaxUint64 - 1, true, false},
		{"the origin's own claim within the window", 1, 5, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 3, nil, compose.Options{})
			gossip := lt.Datagram(c.reporter, layers.ECastUnrel, []byte{1}, lt.Uv(3, 0, c.count, 0))
			if accepted := m.Feed(gossip); accepted == c.refused {
				t.Fatalf("accepted = %v", accepted)
			}
			m.Tick(10 * time.Millisecond)
			ml := m.S.Layer("mnak").(*mnak.Layer)
			if _, _, known := ml.Progress(1); known > mnak.DefaultMaxHeld {
				t.Fatalf("member expects %d messages from 1", known)
			}
			if counted := m.Drops("stable", "gossip_beyond_window") > 0; counted != c.refused {
				t.Fatalf("counted as beyond the window: %v", counted)
			}
			if naks := m.S.Counter("mnak", "naks_sent"); (naks > 0) != c.naks {
				t.Fatalf("%d NAKs sent", naks)
			}
			m.CheckFootprint()
		})
	}
}
