package keying

import (
	"bytes"
	"testing"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

type welcomeVector struct {
	CipherSuite uint16   `json:"cipher_suite"`
	InitPriv    hexBytes `json:"init_priv"`
	SignerPub   hexBytes `json:"signer_pub"`
	KeyPackage  hexBytes `json:"key_package"`
	Welcome     hexBytes `json:"welcome"`
}

// MLSMessage wire formats (RFC 9420 §6) the welcome vectors use.
const (
	wireFormatWelcome    uint16 = 3
	wireFormatKeyPackage uint16 = 5
)

// mlsMessage strips an MLSMessage header (version, wire format) and returns
// a reader over the body.
func mlsMessage(t *testing.T, b []byte, format uint16) *mlsenc.Reader {
	t.Helper()
	r := mlsenc.NewReader(b)
	if v, f := r.Uint16(), r.Uint16(); v != ProtocolVersionMLS10 || f != format {
		t.Fatalf("MLSMessage version %d wire format %d, want 1 and %d", v, f, format)
	}
	return r
}

// TestVectorsWelcome opens each welcome of the MLS welcome vectors with the
// joiner's init key: the group secrets, then the group info, whose
// signature is checked with the signer's key and whose confirmation tag is
// checked with the key schedule started from the joiner secret.
func TestVectorsWelcome(t *testing.T) {
	var cases []welcomeVector
	loadVectors(t, "welcome.json", &cases)
	ran, skipped := 0, 0
	for ci, c := range cases {
		s := vectorSuite(t, c.CipherSuite, &skipped)
		if s == nil {
			continue
		}
		r := mlsMessage(t, c.KeyPackage, wireFormatKeyPackage)
		kp := DecodeKeyPackage(r)
		if err := r.Done(); err != nil {
			t.Fatalf("case %d: key package: %v", ci, err)
		}
		if err := kp.Verify(s); err != nil {
			t.Fatalf("case %d: key package does not verify: %v", ci, err)
		}
		if enc, _ := kp.Bytes(); !bytes.Equal(enc, c.KeyPackage[4:]) {
			t.Fatalf("case %d: key package does not re-encode", ci)
		}
		r = mlsMessage(t, c.Welcome, wireFormatWelcome)
		wm := DecodeWelcome(r)
		if err := r.Done(); err != nil {
			t.Fatalf("case %d: welcome: %v", ci, err)
		}
		if enc, _ := wm.Bytes(); !bytes.Equal(enc, c.Welcome[4:]) {
			t.Fatalf("case %d: welcome does not re-encode", ci)
		}
		initKey, err := s.ParseKEMPrivateKey(c.InitPriv)
		if err != nil || !bytes.Equal(initKey.PublicKey().Bytes(), kp.InitKey) {
			t.Fatalf("case %d: init key does not match the key package (%v)", ci, err)
		}
		gi, gs, e, err := openWelcome(s, wm, kp, initKey, func(*GroupInfo) ([]byte, error) { return c.SignerPub, nil })
		if err != nil {
			t.Fatalf("case %d: open welcome: %v", ci, err)
		}
		if gi.Context.Suite != s.ID() || gs.JoinerSecret == nil {
			t.Fatalf("case %d: group info for another suite", ci)
		}
		e.Destroy()
		// A flipped bit in the signer's key or the sealed group info fails.
		bad := bytes.Clone(c.SignerPub)
		bad[len(bad)-1] ^= 1
		if _, _, _, err := openWelcome(s, wm, kp, initKey, func(*GroupInfo) ([]byte, error) { return bad, nil }); err == nil {
			t.Fatalf("case %d: group info verified under a wrong signer key", ci)
		}
		tampered := *wm
		tampered.EncryptedGroupInfo = bytes.Clone(wm.EncryptedGroupInfo)
		tampered.EncryptedGroupInfo[0] ^= 1
		if _, _, _, err := openWelcome(s, &tampered, kp, initKey, func(*GroupInfo) ([]byte, error) { return c.SignerPub, nil }); err == nil {
			t.Fatalf("case %d: tampered welcome opened", ci)
		}
		ran++
	}
	t.Logf("welcome: %d cases run, %d skipped (X448/Ed448 suites only)", ran, skipped)
}
