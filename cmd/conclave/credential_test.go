package main

import (
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
)

// newKeyFile writes a new Noise private key file into dir with mode perm.
func newKeyFile(t *testing.T, dir, name string, perm os.FileMode) (string, noise.PublicKey) {
	t.Helper()
	k, err := noise.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, noise.MarshalPrivateKeyFile(k), perm); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, perm); err != nil {
		t.Fatal(err)
	}
	return path, k.Public()
}

func TestCredentialFlags(t *testing.T) {
	dir := t.TempDir()
	keyA, pubA := newKeyFile(t, dir, "a.key", 0o600)
	_, pubB := newKeyFile(t, dir, "b.key", 0o600)
	_, pubC := newKeyFile(t, dir, "c.key", 0o600)
	allowFile := filepath.Join(dir, "allow")
	os.WriteFile(allowFile, []byte("# the group\n\n"+pubB.String()+"\n  "+pubA.String()+"  \n"), 0o644)
	var warnings []string
	warn := func(s string) { warnings = append(warnings, s) }

	mc, err := credentialFlags{noiseKey: keyA, allow: []string{pubC.String()}, allowFiles: []string{allowFile}}.load(warn)
	if err != nil {
		t.Fatal(err)
	}
	if mc.cred.Identity() != pubA.Identity() || mc.allowed != 3 || len(warnings) != 0 {
		t.Fatalf("credential %v, %d allowed, warnings %q", mc.cred.Identity(), mc.allowed, warnings)
	}
	for _, p := range []noise.PublicKey{pubA, pubB, pubC} {
		if err := mc.admit(p.Identity()); err != nil {
			t.Errorf("%v refused: %v", p, err)
		}
	}
	other, _ := noise.GenerateKey(rand.Reader)
	if err := mc.admit(other.Public().Identity()); !errors.Is(err, auth.ErrNotAllowed) {
		t.Errorf("a key not on the list: %v", err)
	}

	// A key file others can read is used, with the loader's warning.
	loose, _ := newKeyFile(t, dir, "loose.key", 0o644)
	if _, err := (credentialFlags{noiseKey: loose, allow: []string{pubB.String()}}).load(warn); err != nil || len(warnings) != 1 || !strings.Contains(warnings[0], "0644") {
		t.Errorf("loose key file: %v, warnings %q", err, warnings)
	}

	if mc, err := (credentialFlags{insecure: true}).load(warn); err != nil || mc.cred != nil || mc.admit != nil {
		t.Errorf("--insecure: %+v, %v", mc, err)
	}
	for _, tc := range []struct {
		f    credentialFlags
		want string
	}{
		{credentialFlags{}, "no credential"},
		{credentialFlags{allow: []string{pubB.String()}}, "--allow needs --noise-key"},
		{credentialFlags{noiseKey: keyA}, "needs an allow list"},
		{credentialFlags{noiseKey: keyA, insecure: true}, "--insecure runs without a credential"},
		{credentialFlags{allow: []string{pubB.String()}, insecure: true}, "--insecure runs without a credential"},
		{credentialFlags{noiseKey: keyA, allow: []string{pubB.String()[1:]}}, "--allow (number 1 of 1): not a Noise public key"},
		{credentialFlags{noiseKey: keyA, allow: []string{strings.TrimPrefix(pubB.String(), "noise:")}}, "not a Noise public key"},
		{credentialFlags{noiseKey: filepath.Join(dir, "none"), allow: []string{pubB.String()}}, "--noise-key " + filepath.Join(dir, "none") + ": open"},
		{credentialFlags{noiseKey: allowFile, allow: []string{pubB.String()}}, "--noise-key " + allowFile + ": invalid private key file"},
		{credentialFlags{noiseKey: keyA, allowFiles: []string{keyA}}, ":3: not a Noise public key"},
	} {
		_, err := tc.f.load(warn)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: %v, want %q", tc.f, err, tc.want)
		}
	}
	// The key file's secret line is never repeated in the error.
	_, err = (credentialFlags{noiseKey: keyA, allowFiles: []string{keyA}}).load(warn)
	if data, _ := os.ReadFile(keyA); err == nil || strings.Contains(err.Error(), strings.Fields(string(data))[len(strings.Fields(string(data)))-1]) {
		t.Errorf("allow file error %v repeats the file", err)
	}
}

func TestParseAllowFile(t *testing.T) {
	k, _ := noise.GenerateKey(rand.Reader)
	pub := k.Public().String()
	for _, tc := range []struct {
		data string
		keys int
		want string
	}{
		{pub + "\n", 1, ""},
		{pub, 1, ""},
		{"#c\n" + pub + "\r\n\n" + pub + "\n", 2, ""},
		{"", 0, "no public key"},
		{"# only a comment\n", 0, "no public key"},
		{pub + " # trailing\n", 0, "f:1: not a Noise public key"},
		{pub + "\nfingerprint 1a2b:3c4d:5e6f:7a8b\n", 0, "f:2: not a Noise public key"},
		{strings.Repeat(pub+"\n", maxAllowKeys+1), 0, "more than 10000 keys"},
		{strings.Repeat("#", maxAllowFile+1), 0, "longer than"},
	} {
		keys, err := parseAllowFile("f", []byte(tc.data))
		if tc.want == "" {
			if err != nil || len(keys) != tc.keys {
				t.Errorf("%.60q: %d keys, %v; want %d", tc.data, len(keys), err, tc.keys)
			}
		} else if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.60q: %v, want %q", tc.data, err, tc.want)
		}
	}
}

// TestMemberRefusesWithoutCredential: a member started with neither a key
// nor --insecure says why and what to do, and exits 1.
func TestMemberRefusesWithoutCredential(t *testing.T) {
	code, out, errOut := runCLI(t, "member", "--listen", "127.0.0.1:0")
	want := "conclave: error: no credential: a member is secured by default\n" +
		"conclave: hint: make a key with 'keyadmin keygen noise -o member.key' and give --noise-key member.key"
	if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "--insecure") {
		t.Errorf("member without a credential: status %d, stdout %q, stderr %q", code, out, errOut)
	}
}
