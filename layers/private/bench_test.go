package private_test

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/private"
)

// BenchmarkSend measures one point-to-point message from member 0 to
// member 1 through bottom, pt2pt and (for "private") this layer: the
// sender's stack, the datagram handed to the receiver's, its delivery, and
// the acknowledgements that go with it. The difference between "private"
// and "plain" at one size is this layer's cost per Send: one AEAD seal and
// one open, and their buffers.
func BenchmarkSend(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, c := range []struct {
			name  string
			names []string
		}{{"plain", plain}, {"private", protected}} {
			b.Run(c.name+"/"+sizeName(size), func(b *testing.B) {
				benchSend(b, c.names, private.Config{}, size)
			})
		}
	}
}

// BenchmarkFirstSend measures a message that establishes its pair key:
// the HPKE encryption of a pair secret to the recipient's leaf key, its
// decryption, both sides' key expansion, then the message (RekeyAfter 1:
// every message comes with a new key).
func BenchmarkFirstSend(b *testing.B) {
	benchSend(b, protected, private.Config{RekeyAfter: 1}, 64)
}

func sizeName(n int) string {
	if n >= 1024 {
		return "1KiB"
	}
	return "64B"
}

func benchSend(b *testing.B, names []string, cfg private.Config, size int) {
	g := newGroup(b, 2, names, cfg)
	msg := make([]byte, size)
	s0, s1 := g.members[0], g.members[1]
	var now time.Duration
	pass := func(from, to *layers.Stack) int {
		rd := from.Ready()
		n := 0
		for _, p := range rd.Packets {
			to.Receive(append([]byte(nil), p.Data...))
		}
		n += len(to.Ready().Deliveries)
		from.Advance()
		return n
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	delivered := 0
	for i := range b.N {
		s0.Send(1, msg)
		delivered += pass(s0, s1)
		if i%64 == 63 {
			now += time.Millisecond
			s1.Tick(now)
			s0.Tick(now)
			pass(s1, s0)
		}
		s1.Advance()
	}
	b.StopTimer()
	if delivered != b.N {
		b.Fatalf("delivered %d of %d", delivered, b.N)
	}
}

// BenchmarkRaw measures the primitives side by side with the layer: one
// AEAD seal and open of the same sizes, and a pair key's establishment
// (HPKE encryption and decryption of a secret, a signature and its
// verification), with the suite the Send benchmarks use.
func BenchmarkRaw(b *testing.B) {
	ks := groupKeys(b, crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519, 2)
	suite := ks[0].suite
	aead, err := suite.NewAEAD(make(crypto.Secret, suite.KeySize()))
	if err != nil {
		b.Fatal(err)
	}
	nonce, aad := make([]byte, 12), make([]byte, 41)
	for _, size := range []int{64, 1024} {
		b.Run("aead/"+sizeName(size), func(b *testing.B) {
			msg := make([]byte, size)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				ct := aead.Seal(make([]byte, 0, size+16), nonce, msg, aad)
				if _, err := aead.Open(make([]byte, 0, size), nonce, ct, aad); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("establish", func(b *testing.B) {
		ctx := make([]byte, 40)
		secret := make([]byte, suite.HashSize())
		b.ReportAllocs()
		for b.Loop() {
			enc, wrapped, err := suite.EncryptWithLabel(ks[1].pubs[1], "conclave private pair", ctx, secret)
			if err != nil {
				b.Fatal(err)
			}
			sig, err := ks[0].SenderSign("conclave private key", wrapped)
			if err != nil {
				b.Fatal(err)
			}
			if !ks[1].SenderVerify(0, "conclave private key", wrapped, sig) {
				b.Fatal("signature")
			}
			if _, err := suite.DecryptWithLabel(ks[1].priv, "conclave private pair", ctx, enc, wrapped); err != nil {
				b.Fatal(err)
			}
		}
	})
}
