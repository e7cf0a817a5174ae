package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
)

// The demo's group is secured as a real one is: each member reads its own
// Noise key from a file only its owner can read, and admits the public keys
// on one allow list. The keys are made for the run in a temporary
// directory, removed at the end, with one more for a stranger that is not
// on the list.

// demoKeys are the keys of a demo run.
type demoKeys struct {
	dir   string
	creds map[string]*noise.Credential
	allow []string // the members' public keys, as keyadmin prints them
}

// makeDemoKeys writes a private key file for each name into a new
// directory (mode 0700; each file 0600, created anew), and loads each back
// the way conclave member --noise-key does.
func makeDemoKeys(names []string) (*demoKeys, error) {
	dir, err := os.MkdirTemp("", "conclave-demo-keys-")
	if err != nil {
		return nil, err
	}
	k := &demoKeys{dir: dir, creds: map[string]*noise.Credential{}}
	for _, name := range names {
		key, err := noise.GenerateKey(rand.Reader)
		if err != nil {
			k.remove()
			return nil, err
		}
		file := filepath.Join(dir, name+".key")
		err = writeKeyFile(file, noise.MarshalPrivateKeyFile(key))
		key.Zero()
		if err != nil {
			k.remove()
			return nil, err
		}
		loaded, warning, err := noise.LoadPrivateKeyFile(file)
		if err != nil || warning != "" {
			k.remove()
			return nil, fmt.Errorf("loading %s: %v%s", file, err, warning)
		}
		k.creds[name] = noise.NewCredential(loaded)
	}
	return k, nil
}

// writeKeyFile creates name, which must not exist, with mode 0600.
func writeKeyFile(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	clear(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// admit allows the named members' keys.
func (k *demoKeys) admit(members []string) func(auth.Identity) error {
	for _, m := range members {
		k.allow = append(k.allow, k.creds[m].Identity().String())
	}
	return auth.Allow(k.allow...)
}

func (k *demoKeys) remove() { os.RemoveAll(k.dir) }

// refusals collects the admissions a member's membership protocol refused,
// from its log: the record "peer refused" names the identity and the
// admission check's error. Nothing else of the log is kept.
type refusals struct {
	mu   sync.Mutex
	seen []refusal
	news chan struct{} // capacity 1: a refusal was added
}

type refusal struct {
	by       string // the refusing member's name
	identity string
	reason   string
}

func newRefusals() *refusals { return &refusals{news: make(chan struct{}, 1)} }

// handler returns a log handler for the member named by.
func (r *refusals) handler(by string) slog.Handler { return &refusalHandler{r: r, by: by} }

func (r *refusals) all() []refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]refusal(nil), r.seen...)
}

type refusalHandler struct {
	r  *refusals
	by string
}

func (h *refusalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *refusalHandler) Handle(_ context.Context, rec slog.Record) error {
	if rec.Message != "peer refused" {
		return nil
	}
	f := refusal{by: h.by}
	rec.Attrs(func(a slog.Attr) bool {
		switch a.Key {
		case "identity":
			f.identity = a.Value.String()
		case "err":
			f.reason = a.Value.String()
		}
		return true
	})
	h.r.mu.Lock()
	h.r.seen = append(h.r.seen, f)
	h.r.mu.Unlock()
	select {
	case h.r.news <- struct{}{}:
	default:
	}
	return nil
}

func (h *refusalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *refusalHandler) WithGroup(string) slog.Handler      { return h }
