package sign

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name:      "sign",
		Doc:       "sender authentication: multicasts signed in batches, end to end",
		Placement: layers.Placement{Above: "mnak"},
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("sign", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
