package auth

import (
	"bytes"
	"regexp"
	"testing"
)

func TestPrologue(t *testing.T) {
	a := Prologue([]byte("n"), []byte("ab"), []byte("c"))
	b := Prologue([]byte("n"), []byte("a"), []byte("bc"))
	c := Prologue([]byte("n"), []byte("c"), []byte("ab"))
	if bytes.Equal(a, b) || bytes.Equal(a, c) {
		t.Error("different endpoints give the same prologue")
	}
	want := []byte("conclave auth prologue v1\x00\x00\x00\x01n\x00\x00\x00\x02ab\x00\x00\x00\x01c")
	if !bytes.Equal(a, want) {
		t.Errorf("prologue %q, want %q", a, want)
	}
}

func TestFingerprint(t *testing.T) {
	f := Fingerprint([]byte("key"))
	if !regexp.MustCompile(`^[0-9a-f]{4}(:[0-9a-f]{4}){3}$`).MatchString(f) {
		t.Errorf("fingerprint %q", f)
	}
	// SHA-256("key") starts 2c70e12b7a0646f9.
	if f != "2c70:e12b:7a06:46f9" {
		t.Errorf("fingerprint %q", f)
	}
	if Fingerprint([]byte("key2")) == f {
		t.Error("two keys, one fingerprint")
	}
}

func TestIdentity(t *testing.T) {
	id := Identity{Provider: "noise", Name: "abc", Fingerprint: "x"}
	if id.String() != "noise:abc" || id.IsZero() || !(Identity{}).IsZero() {
		t.Errorf("identity %v", id)
	}
}
