package crypto

import (
	"bytes"
	"crypto/hmac"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// TestHMACMatchesStandard checks the pooled HMAC against crypto/hmac for
// every suite's hash, with keys shorter than, as long as and longer than
// a block (hashed first) and the empty key, computed in turn so that each
// reuses a state the previous one left.
func TestHMACMatchesStandard(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		for _, kl := range []int{0, 1, 32, 64, 65, 128, 129, 300} {
			for _, ml := range []int{0, 1, 100, 1000} {
				key := bytes.Repeat([]byte{byte(kl + 1)}, kl)
				msg := bytes.Repeat([]byte{byte(ml + 7)}, ml)
				m := hmac.New(s.newHash, key)
				m.Write(msg)
				want := m.Sum(nil)
				if got := s.MAC(key, msg); !bytes.Equal(got, want) {
					t.Fatalf("%v: key %d bytes, message %d bytes: pooled HMAC differs", s, kl, ml)
				}
				if got := s.hmacSum([]byte("x"), key, msg[:ml/2], msg[ml/2:]); !bytes.Equal(got, append([]byte("x"), want...)) {
					t.Fatalf("%v: HMAC of a message in two parts differs", s)
				}
			}
		}
	}
}

// TestExpandAllocatesOnlyItsOutput checks that a one-block expansion, the
// derivation every step of the key schedule and every path secret is,
// allocates nothing but its result.
func TestExpandAllocatesOnlyItsOutput(t *testing.T) {
	s, _ := LookupSuite(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	secret := make(Secret, 32)
	info := []byte("info")
	s.Expand(secret, info, 32) // fill the pool
	allocs := testing.AllocsPerRun(50, func() {
		if _, err := s.Expand(secret, info, 32); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Fatalf("Expand allocates %v times, want 1", allocs)
	}
}

// TestExpandWithLabelScratch checks the KDFLabel encoded in the pooled
// state against the generic encoding, for short and long labels and
// contexts (the long ones take the generic path), lengths below and at
// the hash size, and that a short one allocates only its result.
func TestExpandWithLabelScratch(t *testing.T) {
	for _, id := range Suites() {
		s, _ := LookupSuite(id)
		secret := bytes.Repeat([]byte{9}, s.HashSize())
		for _, label := range []string{"", "path", strings.Repeat("l", 55), strings.Repeat("l", 56), strings.Repeat("l", 300)} {
			for _, cl := range []int{0, 4, 63, 64, 200, 300} {
				for _, length := range []int{1, 16, s.HashSize()} {
					ctx := bytes.Repeat([]byte{byte(cl)}, cl)
					w := mlsenc.NewWriter(nil)
					w.Uint16(uint16(length))
					w.Opaque([]byte(labelPrefix + label))
					w.Opaque(ctx)
					info, _ := w.Bytes()
					want, _ := s.Expand(secret, info, length)
					got, err := s.ExpandWithLabel(secret, label, ctx, length)
					if err != nil || !bytes.Equal(got, want) {
						t.Fatalf("%v: label %d bytes, context %d, length %d: %v", s, len(label), cl, length, err)
					}
				}
			}
		}
	}
	s, _ := LookupSuite(MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	secret := make(Secret, 32)
	s.DeriveSecret(secret, "epoch")
	if a := testing.AllocsPerRun(50, func() { s.DeriveSecret(secret, "epoch") }); a > 1 {
		t.Fatalf("DeriveSecret allocates %v times, want 1", a)
	}
}
