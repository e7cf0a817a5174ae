package encrypt

import "github.com/conclave-go/conclave/layers"

func init() {
	layers.Register(layers.Registration{
		Name:      "encrypt",
		Doc:       "seals every datagram under the epoch's per-sender keys (AEAD, replay window)",
		Placement: layers.Placement{Above: "bottom"},
		New: func(opts any) (layers.Layer, error) {
			cfg, err := layers.OptionsOf[Config]("encrypt", opts)
			if err != nil {
				return nil, err
			}
			return New(cfg), nil
		},
	})
}
