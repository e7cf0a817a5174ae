package mflow

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "mflow",
		Doc:  "multicast flow control bounded by stability",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("mflow", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
