package secure

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/private"
)

var _ private.Keys = (*EpochKeys)(nil)

// An epoch's keys establish a private pair key between two members: a
// Send from rank 0 reaches rank 1 sealed under the key the HPKE to rank
// 1's leaf key carried, and is delivered; over the whole secured stack,
// a message of several datagrams too, its fragments and the KEY message
// within the datagram size.
func TestEpochKeysSealPrivateSends(t *testing.T) {
	for _, names := range [][]string{
		{"bottom", "pt2pt", "private"},
		{"bottom", "encrypt", "bundle", "mnak", "sign", "pt2pt", "private", "stable", "mflow", "frag"},
	} {
		ps, states := twoMemberEpoch(t)
		stacks := make([]*layers.Stack, 2)
		for i, p := range ps {
			k, err := p.epochKeys(states[i])
			if err != nil {
				t.Fatal(err)
			}
			cfg := layers.Config{View: layers.View{Group: 1, ID: 1, Rank: k.Rank, N: 2}, Keys: k}
			if stacks[k.Rank], err = compose.Build(cfg, names, compose.Options{}); err != nil {
				t.Fatal(err)
			}
		}
		msgs := [][]byte{[]byte("for one only")}
		if slices.Contains(names, "frag") {
			msgs = append(msgs, bytes.Repeat([]byte("long "), 1000))
		}
		for _, m := range msgs {
			stacks[0].Send(1, m)
		}
		var got [][]byte
		for now := time.Duration(0); now < 50*time.Millisecond; now += time.Millisecond {
			for i, s := range stacks {
				s.Tick(now)
				s.Flush()
				rd := s.Ready()
				for _, d := range rd.Deliveries {
					if i == 1 && !d.Multicast() && d.From == 0 {
						got = append(got, bytes.Clone(d.Data))
					}
				}
				for _, pk := range rd.Packets {
					if len(pk.Data) > layers.DefaultMaxDatagram {
						t.Errorf("%v: a datagram of %d bytes", names, len(pk.Data))
					}
					stacks[1-i].Receive(bytes.Clone(pk.Data))
				}
				s.Advance()
			}
		}
		if !slices.EqualFunc(got, msgs, bytes.Equal) {
			t.Errorf("%v: delivered %d messages, want the %d sent", names, len(got), len(msgs))
		}
		if n := stacks[1].Counter("private", "keys_accepted"); n != 1 {
			t.Errorf("%v: keys accepted %d, want 1", names, n)
		}
		if n := stacks[1].Drops(); n != 0 {
			t.Errorf("%v: %d drops", names, n)
		}
		for _, s := range stacks {
			s.EndView()
		}
	}
}
