package compose_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// sealOptions configures the test-only seal layer.
type sealOptions struct{ Mark byte }

// seal stands for a layer placed as encrypt is, directly above bottom: it
// frames every datagram with a mark byte and drops datagrams without it.
type seal struct {
	p    *layers.Port
	mark byte
	seen int
}

func (l *seal) Name() string           { return "testseal" }
func (l *seal) Init(p *layers.Port)    { l.p = p }
func (l *seal) Tick(now time.Duration) {}
func (l *seal) Down(ev *layers.Event) {
	if ev.Type.IsData() {
		ev.Msg.PushByte(l.mark)
	}
	l.p.Down(ev)
}
func (l *seal) Up(ev *layers.Event) {
	if f := ev.Msg.Front(); len(f) == 0 || f[0] != l.mark {
		l.p.Drop("unsealed")
		return
	}
	l.seen++
	ev.Msg.Consume(1)
	l.p.Up(ev)
}

// pass stands for a layer placed as sign is, directly above mnak.
type pass struct{ p *layers.Port }

func (l *pass) Name() string           { return "testsig" }
func (l *pass) Init(p *layers.Port)    { l.p = p }
func (l *pass) Tick(now time.Duration) {}
func (l *pass) Down(ev *layers.Event)  { l.p.Down(ev) }
func (l *pass) Up(ev *layers.Event)    { l.p.Up(ev) }

func init() {
	layers.Register(layers.Registration{
		Name:      "testseal",
		Doc:       "test-only: marks every datagram, placed as encrypt",
		Placement: layers.Placement{Above: "bottom"},
		New: func(opts any) (layers.Layer, error) {
			o, err := layers.OptionsOf[sealOptions]("testseal", opts)
			if err != nil {
				return nil, err
			}
			return &seal{mark: o.Mark}, nil
		},
	})
	layers.Register(layers.Registration{
		Name:      "testsig",
		Doc:       "test-only: passes events on, placed as sign",
		Placement: layers.Placement{Above: "mnak"},
		New:       func(any) (layers.Layer, error) { return &pass{}, nil },
	})
}

func TestRegisteredLayersArePlaced(t *testing.T) {
	cfg := layers.Config{View: layers.View{Group: 7, N: 2}}
	for _, c := range []struct {
		names []string
		err   string // "" when Build must accept the stack
	}{
		{[]string{"bottom", "testseal", "bundle", "mnak", "testsig", "pt2pt"}, ""},
		{[]string{"bottom", "bundle", "testseal", "mnak"}, `"testseal" must sit directly above "bottom", not above "bundle"`},
		{[]string{"bottom", "bundle", "mnak", "pt2pt", "testsig"}, `"testsig" must sit directly above "mnak", not above "pt2pt"`},
		{[]string{"testseal", "bottom"}, `the first layer must be a bottom layer, not "testseal"`},
		{[]string{"bottom", "bundle", "bottom"}, `"bottom" must be the first layer`},
		{[]string{"bottom", "nosuch"}, `unknown layer "nosuch"`},
	} {
		_, err := compose.Build(cfg, c.names, compose.Options{})
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%v: %v", c.names, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%v: error %v, want %q", c.names, err, c.err)
		}
	}
	if !slices.Contains(compose.Known(), "testseal") || !slices.Contains(compose.Known(), "mnak") {
		t.Errorf("Known() = %v lacks a registered layer", compose.Known())
	}
}

func TestRegisteredLayerOptions(t *testing.T) {
	cfg := layers.Config{View: layers.View{Group: 7, N: 2}}
	names := []string{"bottom", "testseal"}
	s, err := compose.Build(cfg, names, compose.Options{Layers: map[string]any{"testseal": sealOptions{Mark: 0x5a}}})
	if err != nil {
		t.Fatal(err)
	}
	s.Cast([]byte("x"))
	s.Flush()
	if p := s.Ready().Packets; len(p) != 1 || !bytes.Contains(p[0].Data, []byte{0x5a, 'x'}) {
		t.Fatalf("packets %v do not carry the configured mark", p)
	}
	_, err = compose.Build(cfg, names, compose.Options{Layers: map[string]any{"testseal": 3}})
	if err == nil || !strings.Contains(err.Error(), `options for "testseal" are a int`) {
		t.Fatalf("options of the wrong type: error %v", err)
	}
}

// TestRegisteredLayersCarryTraffic runs a group through a stack with both
// test layers at their positions.
func TestRegisteredLayersCarryTraffic(t *testing.T) {
	g := newGroupOf(t, 3, []string{"bottom", "testseal", "bundle", "mnak", "testsig", "pt2pt", "stable", "mflow", "frag"})
	for i := range 30 {
		g.stacks[i%3].Cast([]byte{byte(i)})
	}
	g.stacks[0].Send(1, []byte("p"))
	g.run(20)
	for r := range 3 {
		if len(g.got[r]) != 30+map[bool]int{true: 1}[r == 1] {
			t.Fatalf("member %d delivered %d", r, len(g.got[r]))
		}
		if g.stacks[r].Layer("testseal").(*seal).seen == 0 {
			t.Fatalf("member %d: the seal layer saw no datagram", r)
		}
	}
}
