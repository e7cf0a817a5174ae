package bundle

import (
	"fmt"

	"github.com/conclave-go/conclave/layers"
)

func init() {
	layers.Register(layers.Registration{
		Name: "bundle",
		Doc:  "packs small messages into one datagram",
		New: func(opts any) (layers.Layer, error) {
			if opts != nil {
				return nil, fmt.Errorf("bundle: takes no options, got a %T", opts)
			}
			return New(), nil
		},
	})
}
