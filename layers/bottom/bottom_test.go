package bottom

import (
	"bytes"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

func header(group, view, sender uint64, t layers.Type) []byte {
	b := append([]byte{Version}, wire.AppendUint64(nil, group)...)
	b = wire.AppendUvarint(b, view)
	b = wire.AppendUvarint(b, sender)
	return append(b, byte(t))
}

func TestParse(t *testing.T) {
	good := append(header(7, 3, 2, layers.ECast), 'x')
	h, err := Parse(good)
	if err != nil || h.Group != 7 || h.View != 3 || h.Sender != 2 || h.Type != layers.ECast || h.Len != len(good)-1 {
		t.Fatalf("Parse = %+v, %v", h, err)
	}
	for name, b := range map[string][]byte{
		"empty":        nil,
		"version":      append([]byte{2}, good[1:]...),
		"truncated":    good[:5],
		"no payload":   header(7, 3, 2, layers.ECast),
		"unknown type": append(header(7, 3, 2, layers.EFlush), 'x'),
		"zero type":    append(header(7, 3, 2, 0), 'x'),
		"non-minimal":  append(append(append([]byte{Version}, wire.AppendUint64(nil, 7)...), 0x83, 0x00, 2, byte(layers.ECast)), 'x'),
	} {
		if _, err := Parse(b); err == nil {
			t.Errorf("%s: accepted %x", name, b)
		}
	}
}

// FuzzParse checks that Parse never panics and that an accepted header
// re-encodes to exactly the bytes it was read from.
func FuzzParse(f *testing.F) {
	f.Add(append(header(1, 0, 0, layers.ECast), 0))
	f.Add(append(header(^uint64(0), 1<<40, 63, layers.EBundle), 1, 2, 3))
	f.Add([]byte{Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := Parse(b)
		if err != nil {
			return
		}
		if enc := header(h.Group, h.View, h.Sender, h.Type); !bytes.Equal(enc, b[:h.Len]) {
			t.Fatalf("header %x re-encodes as %x", b[:h.Len], enc)
		}
	})
}

// recorder is a layer above bottom that keeps what reaches it.
type recorder struct {
	p   *layers.Port
	got []layers.Event
}

func (r *recorder) Name() string           { return "recorder" }
func (r *recorder) Init(p *layers.Port)    { r.p = p }
func (r *recorder) Tick(now time.Duration) {}
func (r *recorder) Down(ev *layers.Event)  { r.p.Down(ev) }
func (r *recorder) Up(ev *layers.Event) {
	e := *ev
	e.Msg = layers.NewMessage(bytes.Clone(ev.Msg.Bytes()))
	r.got = append(r.got, e)
}

// upView is the view FuzzUp's receivers serve: a view identifier of two
// bytes, so that a datagram can differ from it in the middle, and ranks
// of one byte and of two. A second receiver serves the same view with
// three members.
var upView = layers.View{Group: 7, ID: 300, Rank: 1, N: 200}

// judge is what the layer of a member of view v must do with datagram b,
// by Parse and the checks of the view: the drop reason, or the sender,
// type and payload passed up.
func judge(v layers.View, b []byte) (reason string, sender int, typ layers.Type, payload []byte) {
	if len(b) > layers.DefaultMaxDatagram {
		return "too_large", 0, 0, nil
	}
	h, err := Parse(b)
	switch {
	case err != nil:
		return "malformed", 0, 0, nil
	case h.Group != v.Group:
		return "other_group", 0, 0, nil
	case h.View != v.ID:
		return "other_view", 0, 0, nil
	case h.Sender >= uint64(v.N) || int(h.Sender) == v.Rank:
		return "bad_sender", 0, 0, nil
	}
	return "", int(h.Sender), h.Type, b[h.Len:]
}

// FuzzUp checks that the layer takes every datagram as Parse and the
// view's checks judge it, the common ones it reads without Parse included:
// the same drop, or the same sender, type and payload passed up.
func FuzzUp(f *testing.F) {
	for _, s := range []uint64{0, 1, 2, 3, 127, 130, 199, 200, 1 << 20} {
		for _, t := range []layers.Type{layers.ECast, layers.ESendUnrel, layers.EBundle, layers.EFlush} {
			f.Add(append(header(upView.Group, upView.ID, s, t), 'x', 'y'))
		}
	}
	f.Add(header(upView.Group, upView.ID, 0, layers.ECast))
	f.Add(append(header(upView.Group+1, upView.ID, 0, layers.ECast), 'x'))
	f.Add(append(header(upView.Group, upView.ID+1, 0, layers.ECast), 'x'))
	f.Add(append(header(upView.Group, upView.ID+128, 0, layers.ECast), 'x'))
	f.Add(append([]byte{Version + 1}, append(header(upView.Group, upView.ID, 0, layers.ECast), 'x')[1:]...))
	f.Add(append(header(upView.Group, upView.ID>>7, 0, layers.ECast), 'x'))
	f.Add(append(header(upView.Group, upView.ID, 0, layers.ECast), make([]byte, layers.DefaultMaxDatagram)...))
	f.Add(append(append(append([]byte{Version}, wire.AppendUint64(nil, upView.Group)...), 0xac, 0x02, 0x80, 0x00, byte(layers.ECast)), 'x'))
	small := upView
	small.N = 3
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, v := range []layers.View{upView, small} {
			rec := &recorder{}
			s, err := layers.New(layers.Config{View: v}, New(), rec)
			if err != nil {
				t.Fatal(err)
			}
			accepted := s.Receive(bytes.Clone(b))
			reason, sender, typ, payload := judge(v, b)
			if reason != "" {
				if accepted || len(rec.got) != 0 || s.Counter("bottom", "drop."+reason) != 1 {
					t.Fatalf("%x in a view of %d: accepted %v, passed up %d, want dropped as %s", b, v.N, accepted, len(rec.got), reason)
				}
				continue
			}
			if !accepted || len(rec.got) != 1 || s.Drops() != 0 {
				t.Fatalf("%x in a view of %d: accepted %v, passed up %d, %d drops, want passed up", b, v.N, accepted, len(rec.got), s.Drops())
			}
			if ev := rec.got[0]; ev.Peer != sender || ev.Type != typ || !bytes.Equal(ev.Msg.Bytes(), payload) {
				t.Fatalf("%x in a view of %d: passed up %v from %d with %x, want %v from %d with %x", b, v.N, ev.Type, ev.Peer, ev.Msg.Bytes(), typ, sender, payload)
			}
		}
	})
}

// The header Down writes is this member's, with each datagram's own type.
func TestDownHeader(t *testing.T) {
	s, err := layers.New(layers.Config{View: upView}, New())
	if err != nil {
		t.Fatal(err)
	}
	s.Cast([]byte("c"))
	s.Send(2, []byte("s"))
	s.Cast([]byte("c"))
	ps := s.Ready().Packets
	want := []layers.Type{layers.ECast, layers.ESend, layers.ECast}
	if len(ps) != len(want) {
		t.Fatalf("%d packets", len(ps))
	}
	for i, p := range ps {
		if !bytes.Equal(p.Data[:len(p.Data)-1], header(upView.Group, upView.ID, uint64(upView.Rank), want[i])) {
			t.Fatalf("packet %d: %x", i, p.Data)
		}
	}
}
