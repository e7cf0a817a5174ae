package main

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
)

// A member is secured by default: it needs its own credential (--noise-key)
// and the public keys it admits (--allow, --allow-file), or --insecure to
// run the plain stack, which admits anyone and has no keys. The key file is
// read by auth/noise's loader; the public keys are checked strictly here,
// so that a mistyped key is an error at start, not a member nobody can
// join.

// credentialFlags are the member's flags that choose its credential.
type credentialFlags struct {
	noiseKey   string
	allow      []string
	allowFiles []string
	insecure   bool
}

// memberCredential is what the flags chose: a credential and its admission
// check, or neither for an insecure member.
type memberCredential struct {
	cred    auth.Credential
	admit   func(auth.Identity) error
	allowed int // public keys on the allow list, for the ready line
}

// errNoCredential is the hint for a member started with neither a
// credential nor --insecure.
var errNoCredential = &hintError{
	err: errors.New("no credential: a member is secured by default"),
	hint: "make a key with 'keyadmin keygen noise -o member.key' and give --noise-key member.key and --allow with the " +
		"public key of each member to admit (or --allow-file FILE, one key a line); --insecure runs a plain group " +
		"that admits anyone and has no keys",
}

// load reads the key file and the allow lists. warn receives the key
// loader's warning about a file others can read.
func (f credentialFlags) load(warn func(string)) (memberCredential, error) {
	if f.insecure {
		if f.noiseKey != "" || len(f.allow) > 0 || len(f.allowFiles) > 0 {
			return memberCredential{}, errors.New("--insecure runs without a credential: drop --noise-key, --allow and --allow-file, or --insecure")
		}
		return memberCredential{}, nil
	}
	if f.noiseKey == "" {
		if len(f.allow) > 0 || len(f.allowFiles) > 0 {
			return memberCredential{}, &hintError{errors.New("--allow needs --noise-key: a member proves its own key as it admits others'"),
				"make a key with 'keyadmin keygen noise -o member.key' and give --noise-key member.key"}
		}
		return memberCredential{}, errNoCredential
	}
	var names []string
	for i, s := range f.allow {
		k, err := noise.ParsePublicKey(s)
		if err != nil {
			// The text is not repeated: a private key pasted by mistake
			// would be.
			return memberCredential{}, &hintError{fmt.Errorf("--allow (number %d of %d): not a Noise public key", i+1, len(f.allow)),
				"a public key is \"noise:\" and 44 characters of base64, as 'keyadmin pubkey FILE' prints it"}
		}
		names = append(names, k.String())
	}
	for _, name := range f.allowFiles {
		keys, err := readAllowFile(name)
		if err != nil {
			return memberCredential{}, err
		}
		for _, k := range keys {
			names = append(names, k.String())
		}
	}
	if len(names) == 0 {
		return memberCredential{}, &hintError{errors.New("--noise-key needs an allow list: a secured member admits only the keys it is given"),
			"give --allow with the public key of each member to admit (one list can serve all: a member always admits its own key), or --allow-file FILE"}
	}
	key, warning, err := noise.LoadPrivateKeyFile(f.noiseKey)
	if warning != "" {
		warn(warning)
	}
	if err != nil {
		return memberCredential{}, fmt.Errorf("--noise-key %s: %s", f.noiseKey, strings.TrimPrefix(err.Error(), "noise: "))
	}
	// The key stays in use for the life of the process: the credential
	// holds it, and nothing zeroes it before the process exits.
	return memberCredential{cred: noise.NewCredential(key), admit: auth.Allow(names...), allowed: len(names)}, nil
}

// Bounds of an allow file, checked before anything is kept: a list of
// members' keys, not a database.
const (
	maxAllowFile = 1 << 20
	maxAllowKeys = 10000
)

// readAllowFile reads an allow file: one public key a line, as keyadmin
// prints them; blank lines and lines starting with "#" are ignored, and
// anything else is an error naming the line (public keys are no secret, but
// the line's text is not repeated: a private key pasted by mistake would
// be).
func readAllowFile(name string) ([]noise.PublicKey, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("--allow-file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxAllowFile+1))
	if err != nil {
		return nil, fmt.Errorf("--allow-file %s: %w", name, err)
	}
	return parseAllowFile(name, data)
}

func parseAllowFile(name string, data []byte) ([]noise.PublicKey, error) {
	if len(data) > maxAllowFile {
		return nil, fmt.Errorf("--allow-file %s: longer than %d bytes", name, maxAllowFile)
	}
	var keys []noise.PublicKey
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), maxAllowFile)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if len(keys) == maxAllowKeys {
			return nil, fmt.Errorf("--allow-file %s:%d: more than %d keys", name, line, maxAllowKeys)
		}
		k, err := noise.ParsePublicKey(text)
		if err != nil {
			return nil, &hintError{fmt.Errorf("--allow-file %s:%d: not a Noise public key", name, line),
				"one public key a line, \"noise:\" and 44 characters of base64, as 'keyadmin pubkey FILE' prints it; # starts a comment"}
		}
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("--allow-file %s: %w", name, err)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("--allow-file %s: no public key in it", name)
	}
	return keys, nil
}
