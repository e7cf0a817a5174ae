package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// runCLI runs the command line args in this process with stdin as standard
// input and returns its exit status, standard output and standard error.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &stdout, &stderr)
	return code, stdout.String(), stderr.String()
}

var pubkeyLine = regexp.MustCompile(`^noise:[A-Za-z0-9+/]{43}=$`)

// keygen makes a key file in a temporary directory and returns its name
// and the public key keygen printed.
func keygen(t *testing.T) (string, string) {
	t.Helper()
	name := filepath.Join(t.TempDir(), "member.key")
	code, out, errOut := runCLI(t, "", "keygen", "noise", "-o", name)
	if code != 0 || errOut != "" {
		t.Fatalf("keygen: status %d, stderr %q", code, errOut)
	}
	pub := strings.TrimSuffix(out, "\n")
	if !pubkeyLine.MatchString(pub) || strings.Count(out, "\n") != 1 {
		t.Fatalf("keygen printed %q, want the public key on one line", out)
	}
	return name, pub
}

func TestKeygenWritesMode0600(t *testing.T) {
	name, _ := keygen(t)
	fi, err := os.Stat(name)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %04o, want 0600", fi.Mode().Perm())
	}
}

func TestKeygenRefusesToOverwrite(t *testing.T) {
	name, _ := keygen(t)
	before, _ := os.ReadFile(name)
	code, out, errOut := runCLI(t, "", "keygen", "noise", "-o", name)
	if code == 0 || out != "" {
		t.Fatalf("second keygen to the same file: status %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "keyadmin: error: "+name+" exists\nkeyadmin: hint: ") {
		t.Errorf("stderr %q, want an error that the file exists and a hint", errOut)
	}
	after, _ := os.ReadFile(name)
	if !bytes.Equal(before, after) {
		t.Error("the existing key file changed")
	}
}

func TestPubkeyMatchesKeygen(t *testing.T) {
	name, pub := keygen(t)
	code, out, errOut := runCLI(t, "", "pubkey", name)
	lines := strings.Split(out, "\n")
	if code != 0 || errOut != "" || len(lines) != 3 || lines[0] != pub ||
		!regexp.MustCompile(`^fingerprint [0-9a-f]{4}(:[0-9a-f]{4}){3}$`).MatchString(lines[1]) {
		t.Fatalf("pubkey: status %d, stdout %q, stderr %q; want %s and its fingerprint", code, out, errOut, pub)
	}
	data, _ := os.ReadFile(name)
	code, out2, _ := runCLI(t, string(data), "pubkey", "-")
	if code != 0 || out2 != out {
		t.Errorf("pubkey - : status %d, %q, want %q", code, out2, out)
	}
}

func TestKeygenToStdout(t *testing.T) {
	code, out, errOut := runCLI(t, "", "keygen", "noise")
	if code != 0 || !strings.HasPrefix(out, "# conclave noise private key\n") || !strings.HasPrefix(errOut, "public key: noise:") {
		t.Fatalf("keygen to a pipe: status %d, stdout %d bytes, stderr %q", code, len(out), errOut)
	}
	code, out2, _ := runCLI(t, out, "pubkey", "-")
	if code != 0 || !strings.HasPrefix(out2, strings.TrimPrefix(strings.TrimSuffix(errOut, "\n"), "public key: ")+"\n") {
		t.Errorf("pubkey of keygen's stdout %q, keygen said %q", out2, errOut)
	}
}

func TestKeygenRefusesTerminal(t *testing.T) {
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Writer) bool { return true }
	code, out, errOut := runCLI(t, "", "keygen", "noise")
	if code == 0 || out != "" || !strings.Contains(errOut, "keyadmin: error: refusing to print a private key to the terminal\nkeyadmin: hint: ") {
		t.Fatalf("keygen to a terminal: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "keygen", "noise", "-o", "-")
	if code != 0 || !strings.Contains(out, "CONCLAVE-NOISE-PRIVATE-KEY-1 ") {
		t.Fatalf("keygen -o - to a terminal: status %d", code)
	}
}

func TestPubkeyRefusesCorruptFile(t *testing.T) {
	name, _ := keygen(t)
	data, _ := os.ReadFile(name)
	lines := strings.SplitAfter(string(data), "\n")
	secret := strings.TrimSpace(strings.TrimPrefix(lines[2], "CONCLAVE-NOISE-PRIVATE-KEY-1"))
	// Change one character in the middle of the secret: the public key
	// line no longer matches it.
	c := byte('A')
	if secret[20] == 'A' {
		c = 'B'
	}
	bad := lines[0] + lines[1] + "CONCLAVE-NOISE-PRIVATE-KEY-1 " + secret[:20] + string(c) + secret[21:] + "\n"
	if err := os.WriteFile(name+".bad", []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "pubkey", name+".bad")
	if code == 0 || out != "" || !strings.HasPrefix(errOut, "keyadmin: error: "+name+".bad: invalid private key file: line 2: ") {
		t.Fatalf("corrupt file: status %d, stdout %q, stderr %q", code, out, errOut)
	}
	bad = lines[0] + lines[1] + "CONCLAVE-NOISE-PRIVATE-KEY-1 " + secret[:20] + "\n"
	code, _, errOut = runCLI(t, bad, "pubkey", "-")
	if code == 0 || !strings.HasPrefix(errOut, "keyadmin: error: standard input: invalid private key file: line 3: ") {
		t.Fatalf("truncated key: status %d, stderr %q", code, errOut)
	}
	if strings.Contains(errOut, secret[:20]) || strings.Contains(errOut, secret[21:]) {
		t.Errorf("the error shows key bytes: %q", errOut)
	}
}

func TestPubkeyWarnsWorldReadable(t *testing.T) {
	name, pub := keygen(t)
	if err := os.Chmod(name, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "", "pubkey", name)
	if code != 0 || !strings.HasPrefix(out, pub+"\n") {
		t.Fatalf("pubkey: status %d, stdout %q", code, out)
	}
	if !strings.HasPrefix(errOut, "keyadmin: warning: private key file "+name+" has mode 0644") {
		t.Errorf("stderr %q, want a warning about the mode", errOut)
	}
}

func TestHelpAndVersion(t *testing.T) {
	code, out, _ := runCLI(t, "", "--version")
	if code != 0 || !strings.HasPrefix(out, "keyadmin ") || !strings.Contains(out, " go1.") {
		t.Errorf("--version: status %d, %q", code, out)
	}
	for _, args := range [][]string{{"--help"}, {"keygen", "noise", "--help"}, {"pubkey", "--help"}} {
		code, out, _ := runCLI(t, "", args...)
		if code != 0 || !strings.Contains(out, "keyadmin") || !strings.Contains(out, "Usage:") {
			t.Errorf("%v: status %d, %q", args, code, out)
		}
	}
	code, _, errOut := runCLI(t, "", "keygen")
	if code == 0 || !strings.Contains(errOut, "keyadmin: hint: keyadmin keygen noise -o FILE") {
		t.Errorf("keygen alone: status %d, %q", code, errOut)
	}
}
