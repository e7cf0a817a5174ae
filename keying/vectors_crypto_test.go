package keying

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// vhex is a hex-encoded byte string in an MLS test vector.
type vhex []byte

func (h *vhex) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := hex.DecodeString(s)
	*h = v
	return err
}

// readMLSVectors decodes testdata/name into v.
func readMLSVectors(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// vectorTally counts the cases of one vector file, per suite, and reports
// them at the end of the test: every skipped case is named with its reason,
// and a skip in a suite Conclave claims fails the test.
type vectorTally struct {
	t       *testing.T
	file    string
	ran     map[crypto.SuiteID]int
	skipped map[crypto.SuiteID]int
}

func newVectorTally(t *testing.T, file string) *vectorTally {
	v := &vectorTally{t: t, file: file, ran: map[crypto.SuiteID]int{}, skipped: map[crypto.SuiteID]int{}}
	t.Cleanup(v.report)
	return v
}

// suite looks up the case's suite; false means the case is skipped (and
// said so), which is only allowed for the X448 suites.
func (v *vectorTally) suite(id uint16) (*crypto.Suite, bool) {
	s, err := crypto.LookupSuite(crypto.SuiteID(id))
	if err != nil {
		v.skipped[crypto.SuiteID(id)]++
		if errors.Is(err, crypto.ErrX448Unavailable) {
			v.t.Logf("%s: skipping a case of suite %v: %v", v.file, crypto.SuiteID(id), err)
		} else {
			v.t.Errorf("%s: case of suite %#04x: %v", v.file, id, err)
		}
		return nil, false
	}
	v.ran[crypto.SuiteID(id)]++
	return s, true
}

func (v *vectorTally) report() {
	total := 0
	for _, id := range crypto.Suites() {
		if v.skipped[id] != 0 {
			v.t.Errorf("%s: %d cases of claimed suite %v skipped", v.file, v.skipped[id], id)
		}
		if n := v.ran[id]; n > 0 {
			total += n
			v.t.Logf("%s: suite %#04x %v: %d cases run, 0 skipped", v.file, uint16(id), id, n)
		}
	}
	skipped := 0
	for _, n := range v.skipped {
		skipped += n
	}
	v.t.Logf("%s: %d cases run, %d skipped (all skips: X448/Ed448 suites)", v.file, total, skipped)
	if total == 0 {
		v.t.Errorf("%s: no case run", v.file)
	}
}

type cryptoBasicsVector struct {
	CipherSuite uint16 `json:"cipher_suite"`
	RefHash     struct {
		Label string `json:"label"`
		Value vhex   `json:"value"`
		Out   vhex   `json:"out"`
	} `json:"ref_hash"`
	ExpandWithLabel struct {
		Secret  vhex   `json:"secret"`
		Label   string `json:"label"`
		Context vhex   `json:"context"`
		Length  int    `json:"length"`
		Out     vhex   `json:"out"`
	} `json:"expand_with_label"`
	DeriveSecret struct {
		Secret vhex   `json:"secret"`
		Label  string `json:"label"`
		Out    vhex   `json:"out"`
	} `json:"derive_secret"`
	DeriveTreeSecret struct {
		Secret     vhex   `json:"secret"`
		Label      string `json:"label"`
		Generation uint32 `json:"generation"`
		Length     int    `json:"length"`
		Out        vhex   `json:"out"`
	} `json:"derive_tree_secret"`
	SignWithLabel struct {
		Priv      vhex   `json:"priv"`
		Pub       vhex   `json:"pub"`
		Content   vhex   `json:"content"`
		Label     string `json:"label"`
		Signature vhex   `json:"signature"`
	} `json:"sign_with_label"`
	EncryptWithLabel struct {
		Priv       vhex   `json:"priv"`
		Pub        vhex   `json:"pub"`
		Label      string `json:"label"`
		Context    vhex   `json:"context"`
		Plaintext  vhex   `json:"plaintext"`
		KEMOutput  vhex   `json:"kem_output"`
		Ciphertext vhex   `json:"ciphertext"`
	} `json:"encrypt_with_label"`
}

// TestVectorsCryptoBasics runs crypto-basics.json: every labelled operation
// of package crypto against the MLS working group's values.
func TestVectorsCryptoBasics(t *testing.T) {
	var cases []cryptoBasicsVector
	readMLSVectors(t, "crypto-basics.json", &cases)
	tally := newVectorTally(t, "crypto-basics.json")
	for _, c := range cases {
		s, ok := tally.suite(c.CipherSuite)
		if !ok {
			continue
		}
		t.Run(s.String(), func(t *testing.T) {
			if got, err := s.RefHash(c.RefHash.Label, c.RefHash.Value); err != nil || !bytes.Equal(got, c.RefHash.Out) {
				t.Errorf("RefHash = %x, %v; want %x", got, err, []byte(c.RefHash.Out))
			}
			e := c.ExpandWithLabel
			if got, err := s.ExpandWithLabel(crypto.Secret(e.Secret), e.Label, e.Context, e.Length); err != nil || !bytes.Equal(got, e.Out) {
				t.Errorf("ExpandWithLabel wrong (err %v)", err)
			}
			d := c.DeriveSecret
			if got := s.DeriveSecret(crypto.Secret(d.Secret), d.Label); !bytes.Equal(got, d.Out) {
				t.Errorf("DeriveSecret wrong")
			}
			dt := c.DeriveTreeSecret
			if got, err := s.DeriveTreeSecret(crypto.Secret(dt.Secret), dt.Label, dt.Generation, dt.Length); err != nil || !bytes.Equal(got, dt.Out) {
				t.Errorf("DeriveTreeSecret wrong (err %v)", err)
			}

			sg := c.SignWithLabel
			if err := s.VerifyWithLabel(sg.Pub, sg.Label, sg.Content, sg.Signature); err != nil {
				t.Errorf("VerifyWithLabel(vector signature): %v", err)
			}
			sk, err := s.ParseSigningKey(sg.Priv)
			if err != nil {
				t.Fatalf("ParseSigningKey: %v", err)
			}
			if !bytes.Equal(sk.PublicKey(), sg.Pub) {
				t.Errorf("signing key's public key %x, want %x", sk.PublicKey(), []byte(sg.Pub))
			}
			sig, err := s.SignWithLabel(sk, sg.Label, sg.Content)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.VerifyWithLabel(sg.Pub, sg.Label, sg.Content, sig); err != nil {
				t.Errorf("VerifyWithLabel(own signature): %v", err)
			}

			en := c.EncryptWithLabel
			priv, err := s.ParseKEMPrivateKey(en.Priv)
			if err != nil {
				t.Fatalf("ParseKEMPrivateKey: %v", err)
			}
			if !bytes.Equal(priv.PublicKey().Bytes(), en.Pub) {
				t.Errorf("KEM private key's public key differs from the vector's")
			}
			pt, err := s.DecryptWithLabel(priv, en.Label, en.Context, en.KEMOutput, en.Ciphertext)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("DecryptWithLabel(vector) = %x, %v", pt, err)
			}
			pub, err := s.ParseKEMPublicKey(en.Pub)
			if err != nil {
				t.Fatal(err)
			}
			kemOut, ct, err := s.EncryptWithLabel(pub, en.Label, en.Context, en.Plaintext)
			if err != nil {
				t.Fatal(err)
			}
			pt, err = s.DecryptWithLabel(priv, en.Label, en.Context, kemOut, ct)
			if err != nil || !bytes.Equal(pt, en.Plaintext) {
				t.Errorf("DecryptWithLabel(own encryption) = %x, %v", pt, err)
			}
		})
	}
}
