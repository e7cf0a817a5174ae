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
