package noise

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPublicKeyText(t *testing.T) {
	k, err := GenerateKey(seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	s := k.Public().String()
	if !strings.HasPrefix(s, "noise:") || len(s) != len("noise:")+44 {
		t.Fatalf("text form %q", s)
	}
	p, err := ParsePublicKey(s)
	if err != nil || p != k.Public() {
		t.Fatalf("parse %q: %v", s, err)
	}
	id := k.Public().Identity()
	if id.Provider != "noise" || id.Name != s[len("noise:"):] || len(id.Fingerprint) != 19 {
		t.Errorf("identity %+v", id)
	}
	if q, err := ParseIdentity(id); err != nil || q != p {
		t.Errorf("parse identity: %v", err)
	}
	name := s[len("noise:"):]
	// The last base64 character carries 2 unused bits: any other value
	// of them is another text for the same bytes, and is refused.
	last := strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", name[42])
	alt := name[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"[last^1]) + "="
	var zero [32]byte
	for _, bad := range []string{
		"", name, "Noise:" + name, "noise: " + name, s + " ", s + "\n", " " + s,
		"noise:" + strings.TrimSuffix(name, "="), "noise:" + alt,
		"noise:" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32)),
		"noise:" + base64.StdEncoding.EncodeToString(zero[:]), // small order
		"noise:" + base64.StdEncoding.EncodeToString(make([]byte, 33)),
	} {
		if _, err := ParsePublicKey(bad); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func TestKeyFileRoundTrip(t *testing.T) {
	k, _ := GenerateKey(seeded(8))
	data := MarshalPrivateKeyFile(k)
	lines := strings.Split(string(data), "\n")
	if len(lines) != 4 || lines[0] != "# conclave noise private key" || lines[1] != "# public key: "+k.Public().String() ||
		!strings.HasPrefix(lines[2], "CONCLAVE-NOISE-PRIVATE-KEY-1 ") || lines[3] != "" {
		t.Fatalf("key file:\n%s", data)
	}
	k2, err := ParsePrivateKeyFile(data)
	if err != nil || !bytes.Equal(k2.Bytes(), k.Bytes()) || k2.Public() != k.Public() {
		t.Fatalf("parse: %v", err)
	}
	if !bytes.Equal(MarshalPrivateKeyFile(k2), data) {
		t.Error("marshal of the parsed file differs")
	}
}

func TestKeyFileRefused(t *testing.T) {
	k, _ := GenerateKey(seeded(8))
	other, _ := GenerateKey(seeded(9))
	good := string(MarshalPrivateKeyFile(k))
	l := strings.SplitAfter(good, "\n")
	secret := strings.TrimSuffix(strings.TrimPrefix(l[2], "CONCLAVE-NOISE-PRIVATE-KEY-1 "), "\n")
	unclamped := k.Bytes()
	unclamped[0] |= 1
	unclampedText := base64.StdEncoding.EncodeToString(unclamped)
	for _, tc := range []struct {
		name string
		data string
		line int
	}{
		{"empty", "", 1},
		{"header only", l[0], 2},
		{"no final newline", strings.TrimSuffix(good, "\n"), 3},
		{"crlf", strings.ReplaceAll(good, "\n", "\r\n"), 1},
		{"fourth line", good + "\n", 4},
		{"other header", "# age private key\n" + l[1] + l[2], 1},
		{"public key of another", l[0] + "# public key: " + other.Public().String() + "\n" + l[2], 2},
		{"public key garbled", l[0] + "# public key: noise:xyz\n" + l[2], 2},
		{"other version", l[0] + l[1] + "CONCLAVE-NOISE-PRIVATE-KEY-2 " + secret + "\n", 3},
		{"two spaces", l[0] + l[1] + "CONCLAVE-NOISE-PRIVATE-KEY-1  " + secret + "\n", 3},
		{"trailing space", l[0] + l[1] + strings.TrimSuffix(l[2], "\n") + " \n", 3},
		{"short key", l[0] + l[1] + "CONCLAVE-NOISE-PRIVATE-KEY-1 " + secret[:40] + "\n", 3},
		{"blank line first", "\n" + good, 1},
		{"unclamped key", l[0] + l[1] + "CONCLAVE-NOISE-PRIVATE-KEY-1 " + unclampedText + "\n", 3},
		{"too long", good + strings.Repeat("#", 5000), 1},
	} {
		_, err := ParsePrivateKeyFile([]byte(tc.data))
		var ke *KeyFileError
		if !errors.As(err, &ke) || !errors.Is(err, ErrKeyFile) {
			t.Errorf("%s: %v, want a KeyFileError", tc.name, err)
			continue
		}
		if ke.Line != tc.line {
			t.Errorf("%s: line %d, want %d (%v)", tc.name, ke.Line, tc.line, err)
		}
		if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), secret[:10]) {
			t.Errorf("%s: the error shows the secret: %v", tc.name, err)
		}
	}
}

func TestLoadPrivateKeyFileWarns(t *testing.T) {
	k, _ := GenerateKey(seeded(8))
	dir := t.TempDir()
	name := filepath.Join(dir, "key")
	if err := os.WriteFile(name, MarshalPrivateKeyFile(k), 0o600); err != nil {
		t.Fatal(err)
	}
	got, warn, err := LoadPrivateKeyFile(name)
	if err != nil || warn != "" || got.Public() != k.Public() {
		t.Fatalf("mode 0600: %v, warning %q", err, warn)
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644} {
		if err := os.Chmod(name, mode); err != nil {
			t.Fatal(err)
		}
		got, warn, err := LoadPrivateKeyFile(name)
		if err != nil || got == nil || !strings.Contains(warn, "others than its owner") {
			t.Errorf("mode %04o: %v, warning %q", mode, err, warn)
		}
	}
	if _, _, err := LoadPrivateKeyFile(dir); err == nil {
		t.Error("a directory loaded")
	}
}

func TestGenerateKeyDeterministic(t *testing.T) {
	a, _ := GenerateKey(seeded(1))
	b, _ := GenerateKey(seeded(1))
	c, _ := GenerateKey(seeded(2))
	if a.Public() != b.Public() || a.Public() == c.Public() {
		t.Error("keys do not follow the random source")
	}
	if _, err := GenerateKey(nil); err == nil {
		t.Error("nil random source accepted")
	}
	ab := a.Bytes()
	if ab[0]&7 != 0 || ab[31]&0xc0 != 0x40 {
		t.Errorf("generated key not clamped: %x…%x", ab[0], ab[31])
	}
	for _, bit := range []struct{ i, mask byte }{{0, 1}, {0, 2}, {0, 4}, {31, 0x80}, {31, 0x40}} {
		u := a.Bytes()
		u[bit.i] ^= bit.mask
		if _, err := NewPrivateKey(u); err == nil {
			t.Errorf("unclamped key (byte %d ^ %#x) accepted", bit.i, bit.mask)
		}
	}
	if _, err := GenerateKey(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("short random source accepted")
	}
}
