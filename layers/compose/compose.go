// Package compose builds stacks from layer names at run time, as Ensemble
// did: the group's properties become an ordered list of layer names, bottom
// first, and each name maps to a constructor.
//
// The names come from the layer registry (layers.Register): each layer
// package registers its layer, its documented position and a constructor
// taking its options, so a new layer is one package that a program
// imports, and Build checks that every layer sits where it must
// (layers.CheckPlacement: bottom first, encrypt directly above bottom,
// sign directly above mnak). This package imports the layers of this
// module, so they are always registered; a layer from elsewhere is
// registered once its package is imported.
package compose

import (
	"fmt"
	"slices"
	"strings"

	"github.com/conclave-go/conclave/layers"
	// Registered by their import; no option of theirs to name here.
	_ "github.com/conclave-go/conclave/layers/bottom"
	_ "github.com/conclave-go/conclave/layers/bundle"
	_ "github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/layers/frag"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
	_ "github.com/conclave-go/conclave/layers/private"
	"github.com/conclave-go/conclave/layers/pt2pt"
	_ "github.com/conclave-go/conclave/layers/sign"
	"github.com/conclave-go/conclave/layers/stable"
	"github.com/conclave-go/conclave/layers/total"
)

// Options carries each layer's configuration. Zero values take the layers'
// defaults.
type Options struct {
	Mnak   mnak.Config
	Pt2pt  pt2pt.Config
	Stable stable.Config
	Mflow  mflow.Config
	Total  total.Config
	Frag   frag.Config
	// Layers holds the options of other registered layers (encrypt,
	// sign, ...), by layer name, each of the type its package documents;
	// a layer missing here takes its defaults.
	Layers map[string]any
}

// For returns the options for the named layer, as its registration's New
// receives them: the field above for a layer of this module, else the
// entry in Layers (nil if none).
func (o *Options) For(name string) any {
	switch name {
	case "mnak":
		return o.Mnak
	case "pt2pt":
		return o.Pt2pt
	case "stable":
		return o.Stable
	case "mflow":
		return o.Mflow
	case "total":
		return o.Total
	case "frag":
		return o.Frag
	}
	return o.Layers[name]
}

// Reliable is the default stack: reliable FIFO multicast and point-to-point
// with stability, flow control, fragmentation and bundling.
var Reliable = []string{"bottom", "bundle", "mnak", "pt2pt", "stable", "mflow", "frag"}

// Total is Reliable with totally ordered multicast: every member delivers a
// view's multicasts in the same order.
var Total = []string{"bottom", "bundle", "mnak", "pt2pt", "stable", "total", "mflow", "frag"}

// Known lists the layer names Build accepts: every registered layer
// (see layers.Register), sorted.
func Known() []string { return layers.Registered() }

// Build composes the named layers, bottom first, into a stack.
//
// The layers' windows depend on each other, and Build keeps them
// consistent: a sender's flow control window (mflow Window) must be smaller
// than the receivers' reliable multicast window (mnak MaxHeld), or honest
// multicasts would fall outside it; the stability layer believes counts up
// to that receive window ahead (stable MaxAhead), and the total order layer
// queues ORDERs for that many casts per member (total MaxQueued), unless
// set otherwise.
func Build(cfg layers.Config, names []string, opts Options) (*layers.Stack, error) {
	held := opts.Mnak.MaxHeld
	if held <= 0 {
		held = mnak.DefaultMaxHeld
	}
	window := opts.Mflow.Window
	if window == 0 {
		window = mflow.DefaultWindow
	}
	if slices.Contains(names, "mnak") && slices.Contains(names, "mflow") && window >= uint64(held) {
		return nil, fmt.Errorf("compose: flow control window %d not below the reliable multicast window %d", window, held)
	}
	if opts.Stable.MaxAhead == 0 {
		opts.Stable.MaxAhead = uint64(held)
	}
	if opts.Total.MaxQueued == 0 {
		opts.Total.MaxQueued = held * max(cfg.View.N, 1)
	}
	for _, n := range names {
		if _, ok := layers.Lookup(n); !ok {
			return nil, fmt.Errorf("compose: unknown layer %q (known: %s)", n, strings.Join(Known(), ", "))
		}
	}
	if err := layers.CheckPlacement(names); err != nil {
		return nil, err
	}
	ls := make([]layers.Layer, 0, len(names))
	for _, n := range names {
		r, _ := layers.Lookup(n)
		l, err := r.New(opts.For(n))
		if err != nil {
			return nil, err
		}
		if l.Name() != n {
			return nil, fmt.Errorf("compose: layer registered as %q names itself %q", n, l.Name())
		}
		ls = append(ls, l)
	}
	return layers.New(cfg, ls...)
}
