package mnak_test

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mnak"
)

// refuser stands for the sender authentication layer above mnak: it
// numbers each origin's multicasts as they come up, and refuses, from its
// own number on, a multicast whose body starts with "forged"; a body
// "bogus:N" makes it send a refusal of number N and pass the message up.
type refuser struct {
	p    *layers.Port
	next []uint64
}

func init() {
	layers.Register(layers.Registration{
		Name: "refuser",
		Doc:  "test: refuses the multicasts marked forged",
		New:  func(any) (layers.Layer, error) { return &refuser{}, nil },
	})
}

func (r *refuser) Name() string           { return "refuser" }
func (r *refuser) Init(p *layers.Port)    { r.p, r.next = p, make([]uint64, p.View().N) }
func (r *refuser) Down(ev *layers.Event)  { r.p.Down(ev) }
func (r *refuser) Tick(now time.Duration) {}
func (r *refuser) refuse(origin int, seq uint64) {
	ev := r.p.NewEvent(layers.ERefuseCast, origin)
	ev.Seq = seq
	r.p.Down(ev)
	r.p.FreeEvent(ev)
}

func (r *refuser) Up(ev *layers.Event) {
	if ev.Type != layers.ECast || ev.Peer == r.p.View().Rank {
		r.p.Up(ev)
		return
	}
	seq := r.next[ev.Peer]
	r.next[ev.Peer]++
	body := string(ev.Msg.Bytes())
	switch {
	case strings.HasPrefix(body, "forged"):
		r.next[ev.Peer] = seq
		r.refuse(ev.Peer, seq)
		return
	case strings.HasPrefix(body, "bogus:"):
		n, _ := strconv.ParseUint(body[len("bogus:"):], 10, 64)
		r.refuse(ev.Peer, n)
	}
	r.p.Up(ev)
}

// retrans is member from's retransmission of origin's multicast seq.
func retrans(from, origin int, seq uint64, body string) []byte {
	return lt.Datagram(from, layers.ESendUnrel, []byte{2}, lt.Uv(uint64(origin), seq), []byte(body))
}

// bare is member from's multicast seq with body as the layer above mnak
// sent it (cast adds the header of the reliable stack's upper layers).
func bare(from int, seq uint64, body string) []byte {
	return lt.Datagram(from, layers.ECast, lt.Uv(seq), []byte(body))
}

// naks returns the runs of the NAKs for origin the member sent, in order.
func naks(m *lt.Member, origin uint64) [][2]uint64 {
	var out [][2]uint64
	for _, p := range m.Out {
		// The bottom header, then ESendUnrel's mnak marker 1 (NAK), the
		// origin, one run.
		i := strings.Index(string(p.Data), string(append([]byte{byte(layers.ESendUnrel), 1}, lt.Uv(origin, 1)...)))
		if i < 0 {
			continue
		}
		rest := p.Data[i+4:]
		first, n1 := uvarint(rest)
		count, _ := uvarint(rest[n1:])
		out = append(out, [2]uint64{first, count})
	}
	return out
}

func uvarint(b []byte) (uint64, int) {
	var x uint64
	for i, c := range b {
		x |= uint64(c&0x7f) << (7 * i)
		if c < 0x80 {
			return x, i + 1
		}
	}
	return 0, 0
}

// TestRefusal: an insider's altered copy of member 1's multicast #1
// reaches member 0 first, and the layer above refuses it. mnak forgets it
// and the real #2 it held after it, counts them missing (a cut is not
// reached), no longer hands the forged copy to a member that asks, asks
// member 1 for #1 and #2 again on the virtual clock, and delivers the real
// copies when they come.
func TestRefusal(t *testing.T) {
	m := lt.New(t, 3, []string{"bottom", "mnak", "refuser"}, compose.Options{})
	ml := m.S.Layer("mnak").(*mnak.Layer)
	m.Feed(bare(1, 0, "m0"))
	m.Feed(bare(1, 2, "m2"))
	m.Feed(retrans(2, 1, 1, "forged m1"))
	if len(m.Got) != 1 || string(m.Got[0].Data) != "m0" {
		t.Fatalf("delivered %v", m.Got)
	}
	if low, delivered, known := ml.Progress(1); low != 0 || delivered != 1 || known != 3 {
		t.Fatalf("progress after the refusal: low %d, delivered %d, known %d", low, delivered, known)
	}
	ml.Cut(1, 3, 1)
	if ml.ReachedCuts() {
		t.Fatal("cut at 3 reached with #1 and #2 refused")
	}
	if got := m.S.Counter("mnak", "refused"); got != 1 {
		t.Fatalf("%d refusals counted", got)
	}
	// Member 2 asks for #1 and #2 of member 1: the forged copy is gone.
	m.Tick(0)
	m.Reset()
	m.Feed(lt.Datagram(2, layers.ESendUnrel, []byte{1}, lt.Uv(1, 1, 1, 2)))
	if len(m.Out) != 0 {
		t.Fatalf("answered a NAK with %d datagrams after forgetting the copies: %v", len(m.Out), m.Out)
	}
	// On the clock, member 0 asks again for what it forgot.
	m.Tick(mnak.DefaultNakInterval)
	if got := naks(m, 1); len(got) == 0 || got[len(got)-1] != [2]uint64{1, 2} {
		t.Fatalf("NAKs for member 1 after the refusal: %v", got)
	}
	m.Feed(retrans(1, 1, 1, "m1"))
	m.Feed(retrans(1, 1, 2, "m2"))
	var got []string
	for _, d := range m.Got {
		got = append(got, string(d.Data))
	}
	if strings.Join(got, " ") != "m1 m2" || !ml.ReachedCuts() { // m0 before the Reset
		t.Fatalf("delivered %v, cut reached %v", got, ml.ReachedCuts())
	}
}

// TestRefusalBounded: refusals of a number not delivered yet, of one no
// longer held, of one beyond anything known, of this member's own
// multicasts or of no member at all change nothing: mnak counts them,
// forgets nothing and asks for nothing.
func TestRefusalBounded(t *testing.T) {
	m := lt.New(t, 3, []string{"bottom", "mnak", "refuser", "stable"}, compose.Options{})
	ml := m.S.Layer("mnak").(*mnak.Layer)
	m.Cast([]byte("own"))
	m.Feed(bare(1, 0, "m0"))
	m.Feed(bare(1, 1, "m1"))
	m.Feed(bare(1, 4, "m4"))
	// Stability releases member 1's #0: member 2 reports it delivered
	// one, member 1 that it sent five.
	m.Feed(lt.Datagram(1, layers.ECastUnrel, []byte{1}, lt.Uv(3, 1, 5, 0)))
	m.Feed(lt.Datagram(2, layers.ECastUnrel, []byte{1}, lt.Uv(3, 1, 1, 0)))
	low, delivered, known := ml.Progress(1)
	if low != 1 || delivered != 2 || known != 5 {
		t.Fatalf("progress: low %d, delivered %d, known %d", low, delivered, known)
	}
	m.Tick(mnak.DefaultNakInterval)
	m.Reset()
	for _, r := range []struct {
		origin int
		seq    uint64
	}{
		{1, 0}, {1, 2}, {1, 4}, {1, 1 << 40}, {1, ^uint64(0)}, {0, 0}, {3, 0}, {-1, 0},
	} {
		ml.Down(&layers.Event{Type: layers.ERefuseCast, Peer: r.origin, Seq: r.seq})
	}
	m.Tick(0)
	if l, d, k := ml.Progress(1); l != low || d != delivered || k != known {
		t.Fatalf("progress moved to low %d, delivered %d, known %d", l, d, k)
	}
	if got := m.S.Counter("mnak", "refusals_ignored"); got != 8 || m.S.Counter("mnak", "refused") != 0 {
		t.Fatalf("%d refusals ignored, %d honoured", got, m.S.Counter("mnak", "refused"))
	}
	if ml.Sent() != 1 || len(naks(m, 1)) != 0 {
		t.Fatalf("sent %d, NAKs %v", ml.Sent(), naks(m, 1))
	}
	// The held #4 is still there: #2 and #3 bring it out.
	m.Got = nil
	m.Feed(bare(1, 2, "m2"))
	m.Feed(bare(1, 3, "m3"))
	var got []string
	for _, d := range m.Got {
		got = append(got, string(d.Data))
	}
	if strings.Join(got, " ") != "m2 m3 m4" {
		t.Fatalf("delivered %v", got)
	}
}

// TestRefusalBeyondTheCut: a view change cuts member 1's stream at its
// own count, 2, where this member had delivered one more (an insider's
// copy at member 1's next number, which the layer above held); the cut
// keeps the delivered count. When the layer above refuses that copy, the
// cut is reached at 2: no member waits for a message member 1 never sent.
func TestRefusalBeyondTheCut(t *testing.T) {
	m := lt.New(t, 3, []string{"bottom", "mnak", "refuser"}, compose.Options{})
	ml := m.S.Layer("mnak").(*mnak.Layer)
	m.Feed(bare(1, 0, "m0"))
	m.Feed(bare(1, 1, "m1"))
	m.Feed(bare(1, 2, "copy"))
	ml.Cut(1, 2, 1)
	if !ml.ReachedCuts() || ml.Delivered(1) != 3 {
		t.Fatalf("cut reached %v, delivered %d", ml.ReachedCuts(), ml.Delivered(1))
	}
	ml.Down(&layers.Event{Type: layers.ERefuseCast, Peer: 1, Seq: 2})
	if !ml.ReachedCuts() || ml.Delivered(1) != 2 {
		t.Fatalf("after the refusal: cut reached %v, delivered %d", ml.ReachedCuts(), ml.Delivered(1))
	}
}
