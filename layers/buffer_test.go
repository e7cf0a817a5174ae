package layers_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// writer is a layer that, like encrypt, writes each datagram whole into a
// buffer from Port.Buffer and sends it down in an event of its own. With
// stale set, it takes a second buffer before sending the first.
type writer struct {
	p     *layers.Port
	down  layers.Event
	stale bool
	// bufs are the buffers it wrote, as it wrote them.
	bufs [][]byte
}

func (l *writer) Name() string           { return "writer" }
func (l *writer) Init(p *layers.Port)    { l.p = p }
func (l *writer) Up(ev *layers.Event)    { l.p.Up(ev) }
func (l *writer) Tick(now time.Duration) {}
func (l *writer) Down(ev *layers.Event) {
	b := append(l.p.Buffer(), '<')
	b = append(append(b, ev.Msg.Bytes()...), '>')
	if l.stale {
		l.p.Buffer()
	}
	l.bufs = append(l.bufs, b)
	l.down.Type, l.down.Peer = ev.Type, ev.Peer
	l.down.Msg.Reset(b)
	l.p.Down(&l.down)
}

func newWriter(t *testing.T, rank int, w *writer) *layers.Stack {
	t.Helper()
	s, err := layers.New(layers.Config{View: layers.View{Group: 7, ID: 1, N: 2, Rank: rank}}, bottom.New(), w)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A datagram written into a buffer from Port.Buffer becomes the packet
// itself: the bottom header goes into the room in front of it and nothing
// else is copied. The receiver reads it as any other.
func TestBufferSentWithoutCopy(t *testing.T) {
	w := &writer{}
	a, b := newWriter(t, 0, w), newWriter(t, 1, &writer{})
	for i, msg := range []string{"one", "two", "three"} {
		a.Cast([]byte(msg))
		ps := a.Ready().Packets
		if len(ps) != 1 {
			t.Fatalf("%d packets", len(ps))
		}
		d, body := ps[0].Data, w.bufs[i]
		h, err := bottom.Parse(d)
		if err != nil {
			t.Fatal(err)
		}
		if len(d) != h.Len+len(body) || &d[h.Len] != &body[0] {
			t.Fatalf("datagram %d was copied out of the buffer it was written in", i)
		}
		b.Receive(bytes.Clone(d))
		a.Advance()
		if got := b.Ready().Deliveries; len(got) != 1 || string(got[0].Data) != "<"+msg+">" {
			t.Fatalf("delivered %+v, want %q", got, "<"+msg+">")
		}
		b.Advance()
	}
}

// A buffer lent before the last one is sent by copy, whole and right.
func TestStaleBufferCopied(t *testing.T) {
	w := &writer{stale: true}
	a := newWriter(t, 0, w)
	a.Cast([]byte("x"))
	ps := a.Ready().Packets
	if len(ps) != 1 {
		t.Fatalf("%d packets", len(ps))
	}
	d, body := ps[0].Data, w.bufs[0]
	h, err := bottom.Parse(d)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(d[h.Len:], []byte("<x>")) || &d[h.Len] == &body[0] {
		t.Fatalf("datagram %q, want the body copied after the header", d)
	}
}

// Advance returns each packet's whole buffer to the pool, front room
// included: a buffer lent after any number of rounds still holds a
// datagram of MaxDatagram bytes.
func TestBufferRoomSurvivesRecycling(t *testing.T) {
	a := newWriter(t, 0, &writer{})
	for range 5 {
		a.Cast([]byte("m"))
		a.Advance()
	}
	w := a.Layer("writer").(*writer)
	a.Cast([]byte("m"))
	if c := cap(w.bufs[len(w.bufs)-1]); c < layers.DefaultMaxDatagram {
		t.Fatalf("a recycled buffer holds %d bytes, below %d", c, layers.DefaultMaxDatagram)
	}
}

func TestMessageReset(t *testing.T) {
	var m layers.Message
	m.Push([]byte("header"))
	m.Reset([]byte("body"))
	if m.Len() != 4 || string(m.Bytes()) != "body" || len(m.Head()) != 0 {
		t.Fatalf("reset message %q, head %q", m.Bytes(), m.Head())
	}
}
