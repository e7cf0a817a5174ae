// Package layertest is the harness the layers' tests share. It has two
// parts:
//
//   - Net, a group of members on a virtual network the test drives (a
//     clock that moves in steps, datagrams lost as the test says), for the
//     layers' functional tests: order, loss and recovery, windows,
//     stability, flow control, fragmentation;
//   - Member, one stack fed datagrams a test writes byte by byte, as an
//     attacker would: it frames payloads with the bottom layer's header as
//     if another member had sent them, feeds them in, and measures what
//     comes out, for the hostile-input tests.
package layertest

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/compose"
)

// Group and ViewID are the view every Member belongs to.
const (
	Group  = 7
	ViewID = 1
)

// Member is one stack under test in a view of N members.
type Member struct {
	T     testing.TB
	S     *layers.Stack
	N     int
	Now   time.Duration
	Out   []layers.Packet // every packet the member sent, copied
	Bytes int             // their total length
	Got   []layers.Delivery
}

// New builds rank 0 of a view of n members with the named layers (nil: the
// reliable stack) and options.
func New(t testing.TB, n int, names []string, opts compose.Options) *Member {
	t.Helper()
	return NewAt(t, 0, n, names, opts)
}

// NewAt is New for rank rank.
func NewAt(t testing.TB, rank, n int, names []string, opts compose.Options) *Member {
	t.Helper()
	if names == nil {
		names = compose.Reliable
	}
	s, err := compose.Build(layers.Config{View: layers.View{Group: Group, ID: ViewID, N: n, Rank: rank}, Seed: 1}, names, opts)
	if err != nil {
		t.Fatal(err)
	}
	return &Member{T: t, S: s, N: n}
}

// Datagram frames payload as a datagram of type typ from member from.
func Datagram(from int, typ layers.Type, payload ...[]byte) []byte {
	b := []byte{bottom.Version}
	b = wire.AppendUint64(b, Group)
	b = wire.AppendUvarint(b, ViewID)
	b = wire.AppendUvarint(b, uint64(from))
	b = append(b, byte(typ))
	for _, p := range payload {
		b = append(b, p...)
	}
	return b
}

// Uv encodes uvarints.
func Uv(xs ...uint64) []byte {
	var b []byte
	for _, x := range xs {
		b = wire.AppendUvarint(b, x)
	}
	return b
}

// Feed hands a datagram to the member, collects what it sends and delivers,
// and reports whether the stack accepted the datagram.
func (m *Member) Feed(d []byte) bool {
	ok := m.S.Receive(d)
	m.collect()
	return ok
}

// Tick advances the member's clock by d and collects its output.
func (m *Member) Tick(d time.Duration) {
	m.Now += d
	m.S.Tick(m.Now)
	m.collect()
}

// Cast multicasts data from the member and collects its output.
func (m *Member) Cast(data []byte) {
	m.S.Cast(data)
	m.collect()
}

func (m *Member) collect() {
	m.S.Flush()
	rd := m.S.Ready()
	for _, p := range rd.Packets {
		m.Out = append(m.Out, layers.Packet{To: p.To, Data: append([]byte(nil), p.Data...)})
		m.Bytes += len(p.Data)
	}
	for _, d := range rd.Deliveries {
		d.Data = append([]byte(nil), d.Data...)
		m.Got = append(m.Got, d)
	}
	m.S.Advance()
}

// Reset forgets the packets and deliveries collected so far.
func (m *Member) Reset() { m.Out, m.Bytes, m.Got = nil, 0, nil }

// Drops is the stack's counter drop.reason of layer.
func (m *Member) Drops(layer, reason string) uint64 { return m.S.Counter(layer, "drop."+reason) }

// CheckFootprint fails the test if the stack holds more than its bound.
func (m *Member) CheckFootprint() {
	m.T.Helper()
	if f, b := m.S.Footprint(), m.S.FootprintBound(); f > b {
		m.T.Fatalf("footprint %d above the stated bound %d", f, b)
	}
}
