package frag

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "frag",
		Doc:  "fragmentation and reassembly of large messages",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("frag", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
