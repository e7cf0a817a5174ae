package noise

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The lines of a private key file (see MarshalPrivateKeyFile).
const (
	keyFileHeader    = "# conclave noise private key"
	keyFilePublic    = "# public key: "
	keyFileKeyword   = "CONCLAVE-NOISE-PRIVATE-KEY-1 "
	keyFileLines     = 3
	maxKeyFileLength = 4096 // far above the real length: reading stops here
)

// ErrKeyFile: a private key file refused. The errors wrapping it name the
// line, never its contents.
var ErrKeyFile = errors.New("noise: invalid private key file")

// KeyFileError is a key file refused at a line.
type KeyFileError struct {
	Line   int // from 1
	Reason string
}

func (e *KeyFileError) Error() string {
	return fmt.Sprintf("noise: invalid private key file: line %d: %s", e.Line, e.Reason)
}

func (e *KeyFileError) Unwrap() error { return ErrKeyFile }

// MarshalPrivateKeyFile returns the private key file of k. A private key
// file is exactly three lines, each ending in "\n":
//
//	# conclave noise private key
//	# public key: noise:<standard base64 of the public key>
//	CONCLAVE-NOISE-PRIVATE-KEY-1 <standard base64 of the private key>
//
// The first line names the file's kind; the second lets a person read the
// public key at a glance, and must match the private key; the third carries
// the secret (32 bytes in the clamped form NewPrivateKey wants), its keyword
// holding the format's version. Nothing else is accepted: no other line, no
// blank line, no "\r", no space but the one after the keyword, no other
// encoding of the same bytes. So parsing then marshalling gives back the
// exact input.
func MarshalPrivateKeyFile(k *PrivateKey) []byte {
	var b bytes.Buffer
	b.WriteString(keyFileHeader + "\n")
	b.WriteString(keyFilePublic + k.pub.String() + "\n")
	b.WriteString(keyFileKeyword + encodeKey(k.priv[:]) + "\n")
	return b.Bytes()
}

// ParsePrivateKeyFile parses a private key file strictly.
func ParsePrivateKeyFile(data []byte) (*PrivateKey, error) {
	if len(data) > maxKeyFileLength {
		return nil, &KeyFileError{Line: 1, Reason: fmt.Sprintf("file longer than %d bytes", maxKeyFileLength)}
	}
	// Each line is checked as it is reached, so that an error names the
	// first line that is wrong.
	var lines []string
	rest := string(data)
	for len(lines) < keyFileLines {
		n := len(lines) + 1
		if len(rest) == 0 {
			return nil, &KeyFileError{Line: n, Reason: "missing line (want three lines)"}
		}
		line, after, ok := strings.Cut(rest, "\n")
		if !ok {
			return nil, &KeyFileError{Line: n, Reason: "line does not end in a newline"}
		}
		if n == 1 && line != keyFileHeader {
			return nil, &KeyFileError{Line: 1, Reason: fmt.Sprintf("want %q", keyFileHeader)}
		}
		lines = append(lines, line)
		rest = after
	}
	if len(rest) > 0 {
		return nil, &KeyFileError{Line: keyFileLines + 1, Reason: "more than three lines"}
	}
	pubText, ok := strings.CutPrefix(lines[1], keyFilePublic)
	if !ok {
		return nil, &KeyFileError{Line: 2, Reason: fmt.Sprintf("want %q and the public key", keyFilePublic)}
	}
	pub, err := ParsePublicKey(pubText)
	if err != nil {
		return nil, &KeyFileError{Line: 2, Reason: strings.TrimPrefix(err.Error(), "noise: ")}
	}
	privText, ok := strings.CutPrefix(lines[2], keyFileKeyword)
	if !ok {
		return nil, &KeyFileError{Line: 3, Reason: fmt.Sprintf("want %q and the private key", keyFileKeyword)}
	}
	b, err := decodeKey(privText)
	if err != nil {
		// decodeKey's errors describe the form, never the bytes.
		return nil, &KeyFileError{Line: 3, Reason: "private key: " + err.Error()}
	}
	k, err := NewPrivateKey(b)
	clear(b)
	if err != nil {
		return nil, &KeyFileError{Line: 3, Reason: strings.TrimPrefix(err.Error(), "noise: ")}
	}
	if !k.pub.Equal(pub) {
		k.Zero()
		return nil, &KeyFileError{Line: 2, Reason: "public key does not match the private key"}
	}
	return k, nil
}

// ReadPrivateKeyFile reads and parses a private key file from r, reading
// no more than a key file can hold.
func ReadPrivateKeyFile(r io.Reader) (*PrivateKey, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxKeyFileLength+1))
	if err != nil {
		return nil, fmt.Errorf("noise: reading private key file: %w", err)
	}
	k, err := ParsePrivateKeyFile(data)
	clear(data)
	return k, err
}

// LoadPrivateKeyFile reads the private key file name. warning, when not
// empty, says that the file can be read by others than its owner (its
// group or everyone); the key is loaded all the same, and the caller
// decides whether to say so or refuse.
func LoadPrivateKeyFile(name string) (key *PrivateKey, warning string, err error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, "", fmt.Errorf("noise: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("noise: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, "", fmt.Errorf("noise: %s is not a regular file", name)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		warning = fmt.Sprintf("private key file %s has mode %04o: others than its owner have access to it (chmod 600 %s)", name, perm, name)
	}
	key, err = ReadPrivateKeyFile(f)
	if err != nil {
		return nil, "", err
	}
	return key, warning, nil
}

func encodeKey(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
