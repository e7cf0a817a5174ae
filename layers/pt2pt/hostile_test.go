package pt2pt_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/pt2pt"
)

func send(from int, seq uint64, body string) []byte {
	return lt.Datagram(from, layers.ESend, lt.Uv(seq), []byte{0}, []byte(body))
}

// TestSendSeqHostile feeds point-to-point messages whose sequence numbers an
// attacker chose: the receive window is 2×Window from the lowest held.
func TestSendSeqHostile(t *testing.T) {
	const w = 2 * pt2pt.DefaultWindow
	for _, c := range []struct {
		name     string
		seq      uint64
		accepted bool
	}{
		{"max uint64", math.MaxUint64, false},
		{"65535 beyond the window", w + 65535, false},
		{"window edge, first outside", w, false},
		{"window edge, last inside", w - 1, true},
		{"next", 0, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			m := lt.New(t, 2, nil, compose.Options{})
			if got := m.Feed(send(1, c.seq, "x")); got != c.accepted {
				t.Fatalf("accepted = %v, want %v", got, c.accepted)
			}
			if drops := m.Drops("pt2pt", "window"); (drops == 1) == c.accepted {
				t.Fatalf("%d window drops", drops)
			}
			m.CheckFootprint()
		})
	}
}

// TestSendReplay checks that a replayed message is harmless and a forged
// acknowledgement beyond what was sent is refused.
func TestSendReplay(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	m.Feed(send(1, 0, "real"))
	if !m.Feed(send(1, 0, "forged")) || len(m.Got) != 1 || string(m.Got[0].Data) != "real" {
		t.Fatalf("replay: deliveries %v", m.Got)
	}
	ack := lt.Datagram(1, layers.ESendUnrel, []byte{0, 1}, lt.Uv(math.MaxUint64))
	if m.Feed(ack) {
		t.Fatal("acknowledgement of unsent messages accepted")
	}
}

// TestNakFlood: one datagram of NAKs, each for the same 256 messages, costs
// what one NAK does.
func TestNakFlood(t *testing.T) {
	m := lt.New(t, 2, nil, compose.Options{})
	const size = 1000
	for i := range 256 {
		m.S.Send(1, bytes.Repeat([]byte{byte(i)}, size))
	}
	m.Tick(0)
	m.Reset()
	body := append([]byte{0, 2, 1, 0}, lt.Uv(256)...) // pass mnak; NAK one run: 0, 256
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
	if m.Bytes > limit || m.S.Counter("pt2pt", "retransmitted") != 256 {
		t.Fatalf("%d bytes out (%d retransmissions) for %d in, limit %d",
			m.Bytes, m.S.Counter("pt2pt", "retransmitted"), len(d), limit)
	}
}
