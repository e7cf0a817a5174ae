package layers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// blocker is a layer that provides the ordering block.
type blocker struct {
	name    string
	blocked bool
}

func (l *blocker) Name() string           { return l.name }
func (l *blocker) Init(p *layers.Port)    {}
func (l *blocker) Up(ev *layers.Event)    {}
func (l *blocker) Down(ev *layers.Event)  {}
func (l *blocker) Tick(now time.Duration) {}
func (l *blocker) Block()                 { l.blocked = true }

func TestViewFlushFindsCapability(t *testing.T) {
	b := &blocker{name: "order"}
	s, err := layers.New(layers.Config{View: layers.View{N: 2}}, bottom.New(), b)
	if err != nil {
		t.Fatal(err)
	}
	s.ViewFlush().Block()
	if !b.blocked {
		t.Fatal("Block did not reach the layer that provides it")
	}
}

func TestTwoLayersWithOneCapabilityRefused(t *testing.T) {
	_, err := layers.New(layers.Config{View: layers.View{N: 2}}, bottom.New(), &blocker{name: "a"}, &blocker{name: "b"})
	if err == nil || !strings.Contains(err.Error(), "ordering block") {
		t.Fatalf("err %v, want two layers providing the ordering block refused", err)
	}
}
