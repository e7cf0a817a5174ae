package keying

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// BenchmarkRatchetGeneration is the cost of one generation of a ratchet:
// the key, the nonce and the next ratchet secret (three derivations).
func BenchmarkRatchetGeneration(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(fmt.Sprintf("%#04x", uint16(s.ID())), func(b *testing.B) {
			tree := newTestTree(b, s, 1)
			r, _ := tree.Ratchet(0, ApplicationRatchet)
			b.ReportAllocs()
			for b.Loop() {
				k, err := r.Next()
				if err != nil {
					b.Fatal(err)
				}
				k.Destroy()
			}
		})
	}
}

// BenchmarkNextBlock is the per-generation cost in block mode: one
// generation's derivations plus building its AEAD, paid once per
// DatagramsPerBlock datagrams.
func BenchmarkNextBlock(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(fmt.Sprintf("%#04x", uint16(s.ID())), func(b *testing.B) {
			tree := newTestTree(b, s, 1)
			r, _ := tree.Ratchet(0, ApplicationRatchet)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := r.NextBlock(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkBlockSeal is the per-datagram cost in block mode, to compare
// with crypto's BenchmarkAEADSeal: the nonce XOR and the AEAD only.
func BenchmarkBlockSeal(b *testing.B) {
	for _, id := range []crypto.SuiteID{crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519, crypto.MLS128DHKEMX25519ChaCha20Poly1305SHA256Ed25519} {
		s, _ := crypto.LookupSuite(id)
		for _, size := range []int{64, 1024} {
			b.Run(fmt.Sprintf("%#04x/%dB", uint16(id), size), func(b *testing.B) {
				tree := newTestTree(b, s, 1)
				r, _ := tree.Ratchet(0, ApplicationRatchet)
				blk, _ := r.NextBlock()
				pt := make([]byte, size)
				dst := make([]byte, 0, size+s.Overhead())
				b.SetBytes(int64(size))
				b.ReportAllocs()
				for b.Loop() {
					var err error
					if blk.Remaining() == 0 {
						blk, _ = r.NextBlock()
					}
					_, dst, err = blk.Seal(dst[:0], nil, pt)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkExport is one MLS exporter call of 32 bytes.
func BenchmarkExport(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(fmt.Sprintf("%#04x", uint16(s.ID())), func(b *testing.B) {
			gc := testGroupContext(s, 0, "a")
			e, _ := NewEpoch(s, bytes.Repeat(crypto.Secret{1}, s.HashSize()), nil, nil, &gc)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := e.Export("app", []byte("context"), 32); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkKeySchedule is one epoch of the key schedule from init and
// commit secrets, with every derived secret.
func BenchmarkKeySchedule(b *testing.B) {
	for _, s := range allSuites(b) {
		b.Run(fmt.Sprintf("%#04x", uint16(s.ID())), func(b *testing.B) {
			gc := testGroupContext(s, 0, "a", "b", "c")
			init := bytes.Repeat(crypto.Secret{1}, s.HashSize())
			for b.Loop() {
				e, err := NewEpoch(s, init, init, nil, &gc)
				if err != nil {
					b.Fatal(err)
				}
				e.Destroy()
			}
		})
	}
}
