package encrypt

import (
	"bytes"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// probe is a layer above encrypt that pushes a header on the way down and
// records the event as it finds it once the call below has returned.
type probe struct {
	p     *layers.Port
	after []layers.Event
}

func (l *probe) Name() string           { return "probe" }
func (l *probe) Init(p *layers.Port)    { l.p = p }
func (l *probe) Tick(now time.Duration) {}
func (l *probe) Up(ev *layers.Event)    { l.p.Up(ev) }
func (l *probe) Down(ev *layers.Event) {
	ev.Msg.Push([]byte("hdr"))
	l.p.Down(ev)
	l.after = append(l.after, *ev)
}

// The layers above may read the event they passed down once the call
// returns: the encrypt layer hands it back as it was, its message, type
// and peer untouched, for casts and sends alike.
func TestDownLeavesTheEventAsItWas(t *testing.T) {
	pr := &probe{}
	s, err := layers.New(layers.Config{View: layers.View{Group: testGroup, ID: testView, Rank: 0, N: 3}, Keys: newKeys(t, 1)}, bottom.New(), New(Config{}), pr)
	if err != nil {
		t.Fatal(err)
	}
	s.Cast([]byte("cast"))
	s.Send(2, []byte("send"))
	if n := len(s.Ready().Packets); n != 2 {
		t.Fatalf("%d datagrams sent", n)
	}
	want := []struct {
		typ  layers.Type
		peer int
		msg  string
	}{{layers.ECast, layers.AllPeers, "hdrcast"}, {layers.ESend, 2, "hdrsend"}}
	if len(pr.after) != len(want) {
		t.Fatalf("%d events seen", len(pr.after))
	}
	for i, w := range want {
		ev := pr.after[i]
		if ev.Type != w.typ || ev.Peer != w.peer || !bytes.Equal(ev.Msg.Bytes(), []byte(w.msg)) {
			t.Errorf("event %d came back as %v to %d with %q, want %v to %d with %q", i, ev.Type, ev.Peer, ev.Msg.Bytes(), w.typ, w.peer, w.msg)
		}
	}
}

// tap is a layer between bottom and encrypt that records the body of
// every datagram passed down through it.
type tap struct {
	p      *layers.Port
	bodies [][]byte
}

func (l *tap) Name() string           { return "tap" }
func (l *tap) Init(p *layers.Port)    { l.p = p }
func (l *tap) Tick(now time.Duration) {}
func (l *tap) Up(ev *layers.Event)    { l.p.Up(ev) }
func (l *tap) Down(ev *layers.Event) {
	l.bodies = append(l.bodies, ev.Msg.Body)
	l.p.Down(ev)
}

// The layer seals into the stack's packet buffer: the datagram leaves with
// the sealed bytes where the layer wrote them, behind the bottom header,
// for a body alone and for headers and body gathered alike.
func TestSealedInPacketBuffer(t *testing.T) {
	for _, above := range []layers.Layer{nil, &probe{}} {
		tp := &tap{}
		ls := []layers.Layer{bottom.New(), tp, New(Config{})}
		if above != nil {
			ls = append(ls, above)
		}
		s, err := layers.New(layers.Config{View: layers.View{Group: testGroup, ID: testView, Rank: 0, N: 2}, Keys: newKeys(t, 1)}, ls...)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			s.Cast([]byte("payload"))
			ps := s.Ready().Packets
			if len(ps) != 1 {
				t.Fatalf("%d datagrams", len(ps))
			}
			d, body := ps[0].Data, tp.bodies[i]
			n := bottomLen(t, d)
			if len(d) != n+len(body) || &d[n] != &body[0] {
				t.Fatalf("datagram %d (a layer above: %v) was copied after it was sealed", i, above != nil)
			}
			s.Advance()
		}
	}
}
