package pt2pt

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "pt2pt",
		Doc:  "reliable FIFO point-to-point messages",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("pt2pt", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
