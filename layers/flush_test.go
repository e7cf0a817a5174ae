package layers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// blocker is a layer that finishes its part of the view on Block; order,
// if set, records the names of the blockers told, in order.
type blocker struct {
	name    string
	blocked bool
	order   *[]string
}

func (l *blocker) Name() string           { return l.name }
func (l *blocker) Init(p *layers.Port)    {}
func (l *blocker) Up(ev *layers.Event)    {}
func (l *blocker) Down(ev *layers.Event)  {}
func (l *blocker) Tick(now time.Duration) {}
func (l *blocker) Block() {
	l.blocked = true
	if l.order != nil {
		*l.order = append(*l.order, l.name)
	}
}

// cutter is a layer that provides the multicast counts.
type cutter struct{ blocker }

func (l *cutter) Sent() uint64                            { return 0 }
func (l *cutter) Delivered(origin int) uint64             { return 0 }
func (l *cutter) Cut(origin int, upTo uint64, holder int) {}
func (l *cutter) ReachedCuts() bool                       { return true }

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

// Every layer that finishes its part on Block is told, top first: the
// ordering layer (total) before the sender authentication layer (sign)
// below it, so that what total sends as it stops joins sign's last batch.
func TestBlockReachesEveryBlockerTopFirst(t *testing.T) {
	var order []string
	low := &blocker{name: "sign", order: &order}
	high := &blocker{name: "total", order: &order}
	s, err := layers.New(layers.Config{View: layers.View{N: 2}}, bottom.New(), low, high)
	if err != nil {
		t.Fatal(err)
	}
	s.ViewFlush().Block()
	if strings.Join(order, ",") != "total,sign" {
		t.Fatalf("Block told %v, want total then sign", order)
	}
}

func TestTwoLayersWithOneCapabilityRefused(t *testing.T) {
	_, err := layers.New(layers.Config{View: layers.View{N: 2}}, bottom.New(), &cutter{blocker{name: "a"}}, &cutter{blocker{name: "b"}})
	if err == nil || !strings.Contains(err.Error(), "multicast counts") {
		t.Fatalf("err %v, want two layers providing the multicast counts refused", err)
	}
}
