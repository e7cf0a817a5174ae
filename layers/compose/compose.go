// Package compose builds stacks from layer names at run time, as Ensemble
// did: the group's properties become an ordered list of layer names, bottom
// first, and each name maps to a constructor.
package compose

import (
	"fmt"
	"slices"
	"strings"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/bundle"
	"github.com/conclave-go/conclave/layers/frag"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/mnak"
	"github.com/conclave-go/conclave/layers/pt2pt"
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
}

var constructors = map[string]func(*Options) layers.Layer{
	"bottom": func(*Options) layers.Layer { return bottom.New() },
	"bundle": func(*Options) layers.Layer { return bundle.New() },
	"mnak":   func(o *Options) layers.Layer { return mnak.New(o.Mnak) },
	"pt2pt":  func(o *Options) layers.Layer { return pt2pt.New(o.Pt2pt) },
	"stable": func(o *Options) layers.Layer { return stable.New(o.Stable) },
	"mflow":  func(o *Options) layers.Layer { return mflow.New(o.Mflow) },
	"frag":   func(o *Options) layers.Layer { return frag.New(o.Frag) },
	"total":  func(o *Options) layers.Layer { return total.New(o.Total) },
}

// Reliable is the default stack: reliable FIFO multicast and point-to-point
// with stability, flow control, fragmentation and bundling.
var Reliable = []string{"bottom", "bundle", "mnak", "pt2pt", "stable", "mflow", "frag"}

// Total is Reliable with totally ordered multicast: every member delivers a
// view's multicasts in the same order.
var Total = []string{"bottom", "bundle", "mnak", "pt2pt", "stable", "total", "mflow", "frag"}

// Known lists the layer names Build accepts.
func Known() []string {
	names := make([]string, 0, len(constructors))
	for n := range constructors {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

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
	ls := make([]layers.Layer, 0, len(names))
	for _, n := range names {
		c, ok := constructors[n]
		if !ok {
			return nil, fmt.Errorf("compose: unknown layer %q (known: %s)", n, strings.Join(Known(), ", "))
		}
		ls = append(ls, c(&opts))
	}
	if len(names) > 0 && names[0] != "bottom" {
		return nil, fmt.Errorf("compose: the first layer must be bottom, not %q", names[0])
	}
	return layers.New(cfg, ls...)
}
