package total

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name: "total",
		Doc:  "total order of multicasts by a sequencer",
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("total", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
