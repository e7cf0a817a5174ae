package stable

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "stable",
		Doc:  "stability: which multicasts every member has",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("stable", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
