package keying

import (
	"testing"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// TestVectorsDeserialization runs deserialization.json: each variable-length
// vector header decodes, through internal/mlsenc, to the listed length,
// consuming the whole header, and the length re-encodes to the same header.
func TestVectorsDeserialization(t *testing.T) {
	var cases []struct {
		Header vhex   `json:"vlbytes_header"`
		Length uint64 `json:"length"`
	}
	readMLSVectors(t, "deserialization.json", &cases)
	if len(cases) == 0 {
		t.Fatal("no cases")
	}
	for _, c := range cases {
		r := mlsenc.NewReader(c.Header)
		n := r.Varint()
		if err := r.Done(); err != nil || n != c.Length {
			t.Errorf("header %x: decoded %d, %v; want %d", []byte(c.Header), n, err, c.Length)
		}
		enc, err := mlsenc.AppendVarint(nil, c.Length)
		if err != nil || string(enc) != string(c.Header) {
			t.Errorf("length %d: encoded %x, %v; want %x", c.Length, enc, err, []byte(c.Header))
		}
	}
	t.Logf("deserialization.json: %d cases run, 0 skipped", len(cases))
}
