package mnak

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "mnak",
		Doc:  "reliable FIFO multicast with negative acknowledgements",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("mnak", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
