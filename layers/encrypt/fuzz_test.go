package encrypt

import (
	"bytes"
	"math"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
)

// FuzzUp feeds a member a genuine datagram of another member whose layer
// header is rewritten with hostile numbers (any destination byte,
// generation and counter up to 2^64-1) and one byte possibly flipped. Only
// the genuine datagram, unchanged, is accepted, and only by a member it
// was for; the receiver never holds more keys than its window allows.
func FuzzUp(f *testing.F) {
	f.Add(byte(0), uint64(0), uint64(0), -1, []byte("x"), false)
	f.Add(byte(1), uint64(0), uint64(0), -1, []byte("to one"), true)
	f.Add(byte(0), uint64(math.MaxUint64), uint64(math.MaxUint64), -1, []byte("hostile"), false)
	f.Add(byte(0), uint64(MaxGenerationsAhead), uint64(65535), 20, []byte("edge"), false)
	f.Add(byte(2), uint64(1<<32), uint64(1<<16), 0, []byte("y"), true)
	f.Fuzz(func(t *testing.T, dest byte, gen, counter uint64, flip int, payload []byte, send bool) {
		if len(payload) == 0 || len(payload) > 1024 {
			return
		}
		ms := group(t, 3, Config{})
		var d []byte
		if send {
			d = ms[0].send(1, string(payload))
		} else {
			d = ms[0].cast(string(payload))
		}
		b := bottomLen(t, d)
		r := wire.NewReader(d[b:])
		r.Byte()
		r.Uvarint()
		r.Uvarint()
		e := append(bytes.Clone(d[:b]), dest)
		e = wire.AppendUvarint(e, gen)
		e = wire.AppendUvarint(e, counter)
		e = append(e, r.Rest()...)
		if flip >= 0 && flip < len(e) {
			e[flip] ^= 1
		}
		genuine := bytes.Equal(e, d)
		for rank := 1; rank <= 2; rank++ {
			m := ms[rank]
			want := genuine && (!send || rank == 1)
			if got := m.feed(e); got != want {
				t.Fatalf("member %d: accepted %v, want %v (genuine %v)", rank, got, want, genuine)
			}
			if want && (len(m.got) != 1 || !bytes.Equal(m.got[0].Data, payload)) {
				t.Fatalf("member %d delivered %v", rank, m.got)
			}
			if !want && len(m.got) != 0 {
				t.Fatalf("member %d delivered a refused datagram", rank)
			}
			if n := m.s.Layer("encrypt").(*Layer).sealer.(*blockSealer).held(); n > heldGenerations {
				t.Fatalf("member %d holds %d generations' keys", rank, n)
			}
		}
	})
}
