package conclave

import (
	"fmt"
	"maps"
	"slices"

	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/encrypt"
)

// Protection is how a secured group protects its messages.
type Protection int

const (
	// Private seals every datagram (confidentiality and integrity under
	// the epoch's keys), and seals each Send under a key that only its
	// sender and its recipient hold (layers/private), so that the other
	// members read nothing of it. The default.
	Private Protection = iota
	// IntegrityOnly authenticates every datagram under the epoch's keys
	// but leaves its content readable by anyone who sees it on the
	// network; Send payloads too are authenticated but readable.
	IntegrityOnly
)

func (p Protection) String() string {
	switch p {
	case Private:
		return "private"
	case IntegrityOnly:
		return "integrity-only"
	}
	return fmt.Sprintf("Protection(%d)", int(p))
}

// The protection layers, each with the layer it sits directly above
// (layers.Placement, which compose.Build checks).
var protectionLayers = []struct{ name, above string }{
	{"encrypt", "bottom"},
	{"sign", "mnak"},
	{"private", "pt2pt"},
}

// protect returns the stack's layers and options under the group's
// policy. A plain group runs the layers as named, and none of them may be a
// protection layer: without keys, such a layer drops everything. A secured
// group gets encrypt directly above bottom (in integrity-only mode with
// IntegrityOnly), sign directly above mnak with SenderAuth, and private
// directly above pt2pt with Private, each unless the layers name it
// already; naming one the policy does not call for is an error, so that the
// policy a program sets is the one that runs.
func (c *Config) protect() ([]string, compose.Options, error) {
	names, opts := c.Layers, c.Options
	if c.Credential == nil {
		for _, pl := range protectionLayers {
			if slices.Contains(names, pl.name) {
				return nil, opts, fmt.Errorf("conclave: config: layer %s needs a secured group's keys: set a Credential", pl.name)
			}
		}
		return names, opts, nil
	}
	want := map[string]bool{
		"encrypt": true,
		"sign":    c.SenderAuth,
		// Without pt2pt there is no Send to keep private.
		"private": c.Protection == Private && slices.Contains(names, "pt2pt"),
	}
	out := slices.Clone(names)
	for _, pl := range protectionLayers {
		has := slices.Contains(out, pl.name)
		switch {
		case has && !want[pl.name]:
			return nil, opts, fmt.Errorf("conclave: config: layer %s named in Layers, but the policy (Protection %v, SenderAuth %v) does not call for it",
				pl.name, c.Protection, c.SenderAuth)
		case has || !want[pl.name]:
			continue
		}
		i := slices.Index(out, pl.above)
		if i < 0 {
			return nil, opts, fmt.Errorf("conclave: config: the policy calls for layer %s, which sits directly above %s, and Layers has no %s", pl.name, pl.above, pl.above)
		}
		out = slices.Insert(out, i+1, pl.name)
	}
	// The encrypt layer's mode follows Protection, keeping whatever else
	// its options say.
	var ec encrypt.Config
	if v, ok := opts.Layers["encrypt"]; ok {
		if ec, ok = v.(encrypt.Config); !ok {
			return nil, opts, fmt.Errorf("conclave: config: Options.Layers[\"encrypt\"] is a %T, want an encrypt.Config", v)
		}
	}
	ec.IntegrityOnly = c.Protection == IntegrityOnly
	opts.Layers = maps.Clone(opts.Layers)
	if opts.Layers == nil {
		opts.Layers = make(map[string]any, 1)
	}
	opts.Layers["encrypt"] = ec
	return out, opts, nil
}
