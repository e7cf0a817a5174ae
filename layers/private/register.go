package private

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name:      "private",
		Doc:       "point-to-point messages only the sender and the recipient can read",
		Placement: layers.Placement{Above: "pt2pt"},
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("private", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
