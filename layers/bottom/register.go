package bottom

import (
	"fmt"

	"github.com/conclave-go/conclave/layers"
)

func init() {
	layers.Register(layers.Registration{
		Name:      "bottom",
		Doc:       "datagram header and the adapter to the transport",
		Placement: layers.Placement{Bottom: true},
		New: func(opts any) (layers.Layer, error) {
			if opts != nil {
				return nil, fmt.Errorf("bottom: takes no options, got a %T", opts)
			}
			return New(), nil
		},
	})
}
