package layers

import (
	"fmt"
	"slices"
	"sync"
)

// Placement is where a layer may sit in a stack, bottom first. The zero
// value puts no constraint on it.
//
// The documented positions: bottom is the first layer of every stack;
// encrypt sits directly above bottom, so that it seals every byte after
// the bottom header (NAKs, gossip and retransmissions included); sign sits
// directly above mnak, so that a member retransmitting another's multicast
// cannot alter it; private sits directly above pt2pt, whose reliable FIFO
// order brings a pair's key before the messages sealed under it.
type Placement struct {
	// Bottom means the layer must be the first of the stack, and the
	// first layer must be one that says so.
	Bottom bool
	// Above, when set, names the layer this one must sit directly above.
	Above string
}

// Registration describes a layer that can be built by name (package
// compose builds stacks from the registry). A layer's package registers it
// in an init function, so that a new layer is one package, linked into a
// program by importing it.
type Registration struct {
	// Name is the layer's name, as Layer.Name returns it.
	Name string
	// Doc says in one line what the layer does.
	Doc string
	// Placement is where the layer may sit.
	Placement Placement
	// New builds the layer from its options: the value the stack's
	// options hold for this layer's name (compose.Options.For), nil for
	// the layer's defaults. A layer documents the type it expects (its
	// package's Config, by value) and returns an error for any other.
	New func(opts any) (Layer, error)
}

var registry struct {
	sync.Mutex
	byName map[string]Registration
}

// Register adds a layer to the registry. It panics if the name is empty or
// taken, New is nil, or the layer would have to sit directly above
// itself: these are errors in the program, found at its start.
func Register(r Registration) {
	registry.Lock()
	defer registry.Unlock()
	switch {
	case r.Name == "" || r.New == nil:
		panic("layers: a registration needs a name and a constructor")
	case r.Placement.Above == r.Name:
		panic(fmt.Sprintf("layers: layer %q placed above itself", r.Name))
	case r.Placement.Bottom && r.Placement.Above != "":
		panic(fmt.Sprintf("layers: layer %q placed both at the bottom and above %q", r.Name, r.Placement.Above))
	}
	if _, dup := registry.byName[r.Name]; dup {
		panic(fmt.Sprintf("layers: layer %q registered twice", r.Name))
	}
	if registry.byName == nil {
		registry.byName = make(map[string]Registration)
	}
	registry.byName[r.Name] = r
}

// Lookup returns the registration of the named layer.
func Lookup(name string) (Registration, bool) {
	registry.Lock()
	defer registry.Unlock()
	r, ok := registry.byName[name]
	return r, ok
}

// Registered lists the registered layer names, sorted.
func Registered() []string {
	registry.Lock()
	defer registry.Unlock()
	names := make([]string, 0, len(registry.byName))
	for n := range registry.byName {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// CheckPlacement checks that the named layers, bottom first, each sit
// where their registrations place them: the first is a bottom layer and no
// other is, and every layer placed above another sits directly above it.
// Every name must be registered.
func CheckPlacement(names []string) error {
	for i, n := range names {
		r, ok := Lookup(n)
		if !ok {
			return fmt.Errorf("layers: unknown layer %q", n)
		}
		p := r.Placement
		switch {
		case i == 0 && !p.Bottom:
			return fmt.Errorf("layers: the first layer must be a bottom layer, not %q", n)
		case i > 0 && p.Bottom:
			return fmt.Errorf("layers: %q must be the first layer, not number %d", n, i+1)
		case p.Above != "" && (i == 0 || names[i-1] != p.Above):
			below := "nothing"
			if i > 0 {
				below = fmt.Sprintf("%q", names[i-1])
			}
			return fmt.Errorf("layers: %q must sit directly above %q, not above %s", n, p.Above, below)
		}
	}
	return nil
}

// OptionsOf converts the options a Registration's New receives into the
// layer's configuration type T: nil gives T's zero value (the layer's
// defaults), a T or a non-nil *T gives that value, anything else is an
// error naming the layer.
func OptionsOf[T any](layer string, opts any) (T, error) {
	var zero T
	switch o := opts.(type) {
	case nil:
		return zero, nil
	case T:
		return o, nil
	case *T:
		if o != nil {
			return *o, nil
		}
		return zero, nil
	}
	return zero, fmt.Errorf("layers: options for %q are a %T, not a %T", layer, opts, zero)
}
