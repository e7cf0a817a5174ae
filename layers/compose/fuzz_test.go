package compose_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// recordTraffic runs a small lossy exchange and returns datagrams member 1
// sent to member 0: casts, sends, bundles, fragments, gossip, NAKs and
// retransmissions, to seed the fuzzer with every header the stack speaks.
func recordTraffic(t testing.TB) [][]byte {
	g := newGroup(t, 3)
	rng := rand.New(rand.NewPCG(3, 4))
	var seen [][]byte
	g.lose = func(from, to int) bool { return rng.IntN(4) == 0 }
	g.tap = func(from, to int, data []byte) {
		if from == 1 && to == 0 && len(seen) < 200 {
			seen = append(seen, bytes.Clone(data))
		}
	}
	g.stacks[1].Cast(bytes.Repeat([]byte{7}, 3000))
	g.stacks[1].Send(0, bytes.Repeat([]byte{8}, 3000))
	for i := range 60 {
		g.stacks[i%3].Cast([]byte(fmt.Sprint(i)))
		g.stacks[1].Send(0, []byte(fmt.Sprint(i)))
	}
	g.run(100)
	return seen
}

// FuzzStackReceive feeds arbitrary datagrams to a member and checks that it
// neither panics nor stops working: its own multicasts still reach the
// other members afterwards.
func FuzzStackReceive(f *testing.F) {
	for _, d := range recordTraffic(f) {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, datagram []byte) {
		g := newGroup(t, 3)
		g.stacks[0].Receive(bytes.Clone(datagram))
		g.run(3)
		g.stacks[0].Cast([]byte("still alive"))
		g.run(5)
		for r := range 3 {
			found := false
			for _, d := range g.got[r] {
				found = found || (d.From == 0 && string(d.Data) == "still alive")
			}
			if !found {
				t.Fatalf("member %d did not deliver member 0's multicast after the fuzzed datagram", r)
			}
		}
	})
}

// TestMalformedDatagramsDroppedAndCounted checks that malformed datagrams
// reaching a member are dropped and counted, never delivered.
func TestMalformedDatagramsDroppedAndCounted(t *testing.T) {
	g := newGroup(t, 3)
	hdr := func(group uint64, sender uint64, typ layers.Type) []byte {
		b := append([]byte{bottom.Version}, wire.AppendUint64(nil, group)...)
		b = wire.AppendUvarint(b, 0)
		b = wire.AppendUvarint(b, sender)
		return append(b, byte(typ))
	}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	inputs := map[string][]byte{
		"empty":             nil,
		"bad version":       cat([]byte{9}, hdr(7, 1, layers.ECast)[1:], []byte{0, 0, 'x'}),
		"truncated header":  hdr(7, 1, layers.ECast)[:6],
		"other group":       cat(hdr(8, 1, layers.ECast), []byte{0, 0, 'x'}),
		"sender not member": cat(hdr(7, 3, layers.ECast), []byte{0, 0, 'x'}),
		"sender is self":    cat(hdr(7, 0, layers.ECast), []byte{0, 0, 'x'}),
		"bundle trailing":   cat(hdr(7, 1, layers.EBundle), []byte{byte(layers.ECast), 2, 0, 0, byte(layers.ECast), 2, 1, 0, 0xff}),
		"non-minimal seq":   cat(hdr(7, 1, layers.ECast), []byte{0x80, 0x00, 0, 'x'}),
		"unknown marker":    cat(hdr(7, 1, layers.ESendUnrel), []byte{9, 1, 2}),
		"bad nak":           cat(hdr(7, 1, layers.ESendUnrel), []byte{1, 0, 0}),
		"bad frag tag":      cat(hdr(7, 1, layers.ECast), []byte{0, 7, 'x'}),
		"bad gossip":        cat(hdr(7, 1, layers.ECastUnrel), []byte{1, 9, 1}),
	}
	for name, in := range inputs {
		before := g.stacks[0].Drops()
		g.stacks[0].Receive(in)
		if g.stacks[0].Drops() != before+1 {
			t.Errorf("%s: not counted as dropped: %v", name, g.stacks[0].Counters())
		}
	}
	g.run(2)
	if len(g.got[0]) != 0 {
		t.Fatalf("delivered %d messages from malformed datagrams", len(g.got[0]))
	}
}
