package hostile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/bundle"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/total"
	"github.com/conclave-go/conclave/membership"
)

func TestVarintEncodingsThroughTheRealDecoder(t *testing.T) {
	for _, v := range []uint64{0, 1, 127, 128, 1 << 63, math.MaxUint64 - 1, math.MaxUint64} {
		b := AppendVarint(nil, v, Minimal)
		got, n, err := wire.Uvarint(b)
		if err != nil || got != v || n != len(b) {
			t.Errorf("minimal %d: got %d, %d bytes, %v", v, got, n, err)
		}
		if v >= 1<<63 && len(b) != 10 {
			t.Errorf("minimal %d: %d bytes, want a 10-byte varint", v, len(b))
		}
		nm := AppendVarint(nil, v, NonMinimal)
		if raw, k := binary.Uvarint(nm); len(b) < 10 && (raw != v || k != len(b)+1) {
			t.Errorf("non-minimal %d: decodes loosely as %d in %d bytes, want the same value one byte longer", v, raw, k)
		}
		if _, _, err := wire.Uvarint(nm); !errors.Is(err, wire.ErrVarint) {
			t.Errorf("non-minimal %d (% x): wire accepts it (%v)", v, nm, err)
		}
		if _, _, err := wire.Uvarint(AppendVarint(nil, v, Overlong)); !errors.Is(err, wire.ErrVarint) {
			t.Errorf("overlong: %v", err)
		}
		if _, _, err := wire.Uvarint(AppendVarint(nil, v, Truncated)); err == nil {
			t.Errorf("truncated %d: accepted", v)
		}
	}
}

func TestSeqsAtTheWindowEdges(t *testing.T) {
	w := Window{Low: 10, Next: 12, Known: 20, Size: 100, Ahead: 50}
	all := w.Seqs(false)
	for _, want := range []uint64{0, 11, 12, 13, 109, 110, 111, 120, 62, 63, math.MaxUint64, math.MaxUint64 - 1, 1 << 63} {
		if !slices.Contains(all, want) {
			t.Errorf("Seqs lacks %d: %v", want, all)
		}
	}
	for _, v := range w.Seqs(true) {
		if v >= w.Next && v < w.Next+w.Ahead {
			t.Errorf("safe Seqs has %d, inside [Next, Next+Ahead) = [12, 62)", v)
		}
	}
	// Saturating: nothing wraps around to a small number.
	hi := Window{Low: math.MaxUint64 - 5, Next: math.MaxUint64 - 3, Known: math.MaxUint64 - 1, Size: 1 << 16, Ahead: 1 << 16}
	for _, v := range hi.Seqs(false) {
		if v > 1 && v < 1<<32 {
			t.Errorf("Seqs near the top wrapped around to %d", v)
		}
	}
}

func TestHeaderThroughBottomParse(t *testing.T) {
	h := Header{Group: 7, View: math.MaxUint64, Sender: 2, Type: layers.EBundle}
	b := append(h.Append(nil), 1, 2)
	got, err := bottom.Parse(b)
	if err != nil || got.Group != 7 || got.View != math.MaxUint64 || got.Sender != 2 || got.Type != layers.EBundle || got.Len != len(b)-2 {
		t.Fatalf("bottom.Parse = %+v, %v", got, err)
	}
	for _, e := range []Encoding{NonMinimal, Overlong, Truncated} {
		if _, err := bottom.Parse(append(h.AppendEnc(nil, e), 1)); err == nil {
			t.Errorf("encoding %d: header accepted", e)
		}
	}
}

func TestPackedBundlesThroughSplit(t *testing.T) {
	tg := Target{Group: 7, View: 9, N: 3, Rank: 0, MaxDatagram: 1400}
	for _, kind := range []Kind{KNakFlood, KTinyFrames, KOversize} {
		for seed := range uint64(8) {
			_, d := tg.Datagram(rand.New(rand.NewPCG(seed, 1)), 1, kind, nil)
			h, err := bottom.Parse(d)
			if err != nil || h.Type != layers.EBundle {
				t.Fatalf("%v: header %+v, %v", kind, h, err)
			}
			frames, err := bundle.Split(d[h.Len:], 1, nil)
			if err != nil {
				t.Fatalf("%v: bundle.Split: %v", kind, err)
			}
			limit := 1400
			if len(d) > 1400 {
				limit = MaxUDP
			}
			last := FrameLen(Frame{frames[0].Type, frames[0].Msg.Body})
			if len(d) > limit || len(d)+last <= limit {
				t.Errorf("%v: %d bytes, not packed to %d (frame %d bytes)", kind, len(d), limit, last)
			}
			if kind == KOversize && len(d) <= 1400 {
				t.Errorf("oversize bundle of %d bytes", len(d))
			}
			if kind == KNakFlood && len(frames) < limit/20 {
				t.Errorf("NAK flood of %d frames", len(frames))
			}
		}
	}
}

func TestOrderThroughParseOrder(t *testing.T) {
	runs := []OrderRun{{0, 1<<16 - 1}, {1, 1}}
	b := Order(nil, runs, Minimal)
	got, err := total.ParseOrder(b[1:], 3, nil)
	if err != nil || len(got) != 2 || got[0] != (total.Run{Origin: 0, Count: 1<<16 - 1}) {
		t.Fatalf("ParseOrder = %v, %v", got, err)
	}
	if _, err := total.ParseOrder(Order(nil, []OrderRun{{0, 1<<16 + 1}}, Minimal)[1:], 3, nil); err == nil {
		t.Fatal("an ORDER over MaxOrderCount parsed")
	}
}

// pair is two stacks on a perfect network, for checking that what the
// builder makes is what the layers read.
type pair struct {
	s   [2]*layers.Stack
	now time.Duration
	out [][]byte // what stack 0 sent, each round
}

func newPair(t *testing.T) *pair {
	p := &pair{}
	for r := range 2 {
		s, err := compose.Build(layers.Config{View: layers.View{Group: 7, ID: 9, N: 2, Rank: r}, Seed: 1}, compose.Reliable, compose.Options{})
		if err != nil {
			t.Fatal(err)
		}
		p.s[r] = s
	}
	return p
}

func (p *pair) round() {
	p.now += time.Millisecond
	p.out = p.out[:0]
	for from, s := range p.s {
		s.Tick(p.now)
		s.Flush()
		for _, pk := range s.Ready().Packets {
			if from == 0 {
				p.out = append(p.out, bytes.Clone(pk.Data))
			}
			p.s[1-from].Receive(bytes.Clone(pk.Data))
		}
		s.Advance()
	}
}

func TestNaksRetransmittedAndFound(t *testing.T) {
	p := newPair(t)
	for i := range 4 {
		p.s[0].Cast([]byte{byte(i)})
		p.s[0].Send(1, []byte{byte(i)})
	}
	// Nothing reaches member 1: member 0 keeps every message.
	p.s[0].Flush()
	p.s[0].Advance()
	// Member 1 asks member 0 for its casts 1 and 2 and its sends 0 … 2.
	nak := append(Header{Group: 7, View: 9, Sender: 1, Type: layers.ESendUnrel}.Append(nil), MnakNak(nil, 0, []Run{{1, 2}}, Minimal)...)
	ptnak := append(Header{Group: 7, View: 9, Sender: 1, Type: layers.ESendUnrel}.Append(nil), PtNak(nil, []Run{{0, 3}}, Minimal)...)
	p.s[0].Receive(nak)
	p.s[0].Receive(ptnak)
	p.s[0].Flush()
	var got []Retrans
	var scratch []layers.Event
	for _, pk := range p.s[0].Ready().Packets {
		got, scratch = Retransmissions(pk.Data, got, scratch)
	}
	want := []Retrans{{9, 0, 1}, {9, 0, 2}, {9, -1, 0}, {9, -1, 1}, {9, -1, 2}}
	if !slices.Equal(got, want) {
		t.Fatalf("retransmissions %v, want %v (counters %v)", got, want, p.s[0].Counters())
	}
}

func TestCastsAndGossipThroughTheStack(t *testing.T) {
	p := newPair(t)
	hdr := Header{Group: 7, View: 9, Sender: 1, Type: layers.ECast}
	cast := func(seq uint64, app string) []byte {
		return append(hdr.Append(nil), Seq(nil, seq, Minimal, Upper{}.Whole(nil, true, []byte(app)))...)
	}
	p.s[0].Receive(cast(1, "b"))
	p.s[0].Receive(cast(0, "a"))
	var got []string
	for _, d := range p.s[0].Ready().Deliveries {
		got = append(got, string(d.Data))
	}
	if !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("delivered %q, want a then b (counters %v)", got, p.s[0].Counters())
	}
	g := Header{Group: 7, View: 9, Sender: 1, Type: layers.ECastUnrel}
	p.s[0].Receive(append(g.Append(nil), Gossip(nil, 2, []uint64{0, 2}, Minimal)...))
	st := p.s[0].Layer("stable").(interface{ Vector(int) []uint64 })
	if v := st.Vector(1); !slices.Equal(v, []uint64{0, 2}) {
		t.Fatalf("member 1's gossiped vector reads %v", v)
	}
}

func TestSafeDatagramsKeepOutOfTheLegitimateRange(t *testing.T) {
	w := Window{Low: 100, Next: 120, Known: 130, Size: 1 << 12, Ahead: 1 << 12}
	tg := Target{Group: 7, View: 9, N: 3, Rank: 0, MaxDatagram: 1400, Casts: []Window{w, w, w}, Sends: []Window{w, w, w}, Safe: true}
	var scratch []layers.Event
	for seed := range uint64(600) {
		kind, d := tg.Datagram(rand.New(rand.NewPCG(seed, 2)), 1, Any, nil)
		h, err := bottom.Parse(d)
		if err != nil {
			continue
		}
		if h.Sender != 1 && h.Sender < uint64(tg.N) && h.Sender != uint64(tg.Rank) {
			t.Fatalf("%v: safe datagram claims another member, %d", kind, h.Sender)
		}
		frames := []layers.Event{{Type: h.Type, Msg: layers.NewMessage(d[h.Len:])}}
		if h.Type == layers.EBundle {
			frames, err = bundle.Split(d[h.Len:], 1, scratch[:0])
			if err != nil {
				continue
			}
		}
		for _, f := range frames {
			if seq, ok := legitSeq(f.Type, f.Msg.Body); ok && seq >= w.Next && seq < w.Next+w.Ahead {
				t.Fatalf("%v: a safe datagram carries seq %d, inside the legitimate range", kind, seq)
			}
		}
	}
}

// legitSeq reads the sequence number of a frame that could deliver a
// message or acknowledge one.
func legitSeq(t layers.Type, b []byte) (uint64, bool) {
	r := wire.NewReader(b)
	switch t {
	case layers.ECast, layers.ESend:
		v := r.Uvarint()
		return v, r.Err() == nil
	case layers.ESendUnrel:
		switch r.Byte() {
		case 0:
			switch r.Byte() {
			case 1, 3:
				v := r.Uvarint()
				return v, r.Err() == nil
			}
		case 2:
			r.Uvarint()
			v := r.Uvarint()
			return v, r.Err() == nil
		}
	case layers.ECastUnrel:
		if r.Byte() != 1 {
			return 0, false
		}
		r.Uvarint()
		low := uint64(math.MaxUint64)
		for r.Len() > 0 && r.Err() == nil {
			low = min(low, r.Uvarint())
		}
		return low, r.Err() == nil
	}
	return 0, false
}

func TestEveryKindGetsPastTheHeader(t *testing.T) {
	tg := Target{Group: 7, View: 9, N: 3, Rank: 0, MaxDatagram: 1400}
	for kind := range Kind(Kinds) {
		parsed := 0
		for seed := range uint64(50) {
			_, d := tg.Datagram(rand.New(rand.NewPCG(seed, 3)), 1, kind, nil)
			if _, err := bottom.Parse(d); err == nil {
				parsed++
			}
		}
		if kind != KBadHeader && parsed < 40 {
			t.Errorf("%v: only %d of 50 headers parse", kind, parsed)
		}
		if kind == KBadHeader && parsed > 45 {
			t.Errorf("bad headers: %d of 50 parse", parsed)
		}
	}
}

func TestBytesSource(t *testing.T) {
	s := NewBytes([]byte{5, 1, 2, 3})
	if v := s.IntN(3); v != 2 {
		t.Fatalf("IntN(3) = %d", v)
	}
	if v := s.IntN(1000); v != 0x0102%1000 {
		t.Fatalf("IntN(1000) = %d", v)
	}
	if v := s.Uint64(); v != 3<<56 {
		t.Fatalf("Uint64 = %x", v)
	}
	if s.Len() != 0 || s.IntN(7) != 0 || s.Uint64() != 0 {
		t.Fatal("an exhausted source chooses something other than zero")
	}
}

// TestControlThroughTheMembershipDecoder feeds every kind of hostile
// control message to a real member: none may be refused as malformed.
func TestControlThroughTheMembershipDecoder(t *testing.T) {
	self := membership.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:10000"), Inc: 1}
	m, err := membership.New(membership.Config{Self: self, Group: 7})
	if err != nil {
		t.Fatal(err)
	}
	s := Stranger{
		Group:    7,
		Self:     netip.MustParseAddrPort("10.9.9.9:1"),
		View:     m.View(),
		Third:    []netip.AddrPort{netip.MustParseAddrPort("192.0.2.1:1"), netip.MustParseAddrPort("192.0.2.2:2")},
		MaxLTime: membership.MaxLTime,
	}
	seen := map[ControlType]bool{}
	for seed := range uint64(400) {
		typ, d := s.Control(rand.New(rand.NewPCG(seed, 4)), nil)
		seen[typ] = true
		m.Receive(s.Self, d)
		for _, c := range m.Counters() {
			if c.Layer == "membership" && (c.Name == "drop.malformed_control" || c.Name == "drop.forged_control") && c.Value > 0 {
				t.Fatalf("%v (% x): %s", typ, d, c.Name)
			}
		}
		m.Advance()
	}
	if len(seen) != int(numControl)-1 {
		t.Fatalf("only %d control types made", len(seen))
	}
	// Past the wire's bound on logical times: refused.
	me := membership.Endpoint{Addr: s.Self, Inc: 3}
	for _, lt := range []uint64{membership.MaxLTime + 1, math.MaxUint64} {
		probe := Control{Group: 7, Type: Probe, From: me, Pad: 64, Summary: membership.Summary{ID: membership.ViewID{LTime: lt, Coord: me}, Size: 1, Coord: me}}
		m.Receive(s.Self, probe.Append(nil))
		m.Advance()
	}
	refused := uint64(0)
	for _, c := range m.Counters() {
		if c.Layer == "membership" && c.Name == "drop.malformed_control" {
			refused = c.Value
		}
	}
	if refused != 2 {
		t.Fatalf("%d probes past MaxLTime refused, want 2", refused)
	}
}

// TestCookieRoundTripThroughAMember fetches a real member's cookie with a
// Probe, reads it with ReadAnswer, and proves the stranger's address with
// it in a MergeReq: the member starts merging the stranger in. A spoiled
// cookie is refused.
func TestCookieRoundTripThroughAMember(t *testing.T) {
	for _, spoil := range []bool{false, true} {
		self := membership.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:10000"), Inc: 1}
		m, err := membership.New(membership.Config{Self: self, Group: 7})
		if err != nil {
			t.Fatal(err)
		}
		m.Tick(time.Millisecond)
		m.Advance()
		s := Stranger{Group: 7, Self: netip.MustParseAddrPort("10.9.9.9:1")}
		me := membership.Endpoint{Addr: s.Self, Inc: 5}
		probe := Control{Group: 7, Type: Probe, From: me, Pad: 64, Summary: membership.Summary{ID: membership.ViewID{LTime: 1, Coord: me}, Size: 1, Coord: me}}
		m.Receive(s.Self, probe.Append(nil))
		var ans Answer
		for _, p := range m.Ready().Packets {
			if a, ok := ReadAnswer(p.Data, 7); ok && p.Addr == s.Self {
				ans = a
			}
		}
		m.Advance()
		if ans.From != self || len(ans.Cookie) != CookieLen || ans.Summary.ID != m.View().ID {
			t.Fatalf("answer %+v", ans)
		}
		if spoil {
			ans.Cookie = append([]byte(nil), ans.Cookie...)
			ans.Cookie[0] ^= 0xff
		}
		m.Receive(s.Self, s.Merge(me, ans, 7, nil, nil))
		flushed := false
		for _, p := range m.Ready().Packets {
			flushed = flushed || p.Addr == s.Self && len(p.Data) > 9 && p.Data[9] == byte(Flush)
		}
		if flushed == spoil {
			t.Fatalf("spoiled cookie %v: member sent the stranger a Flush: %v (counters %v)", spoil, flushed, m.Counters())
		}
	}
}
