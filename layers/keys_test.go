package layers_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// testKeys is key material as a participant would hand it over: secret
// bytes, zeroed on release, with a count of releases.
type testKeys struct {
	secret   []byte
	releases int
}

func (k *testKeys) Release() {
	clear(k.secret)
	k.releases++
}

// keyReader is a layer that, like encrypt, takes its key from the stack's
// configuration when it starts.
type keyReader struct {
	got []byte
	ok  bool
}

func (l *keyReader) Name() string { return "keyreader" }
func (l *keyReader) Init(p *layers.Port) {
	k, ok := p.Config().Keys.(*testKeys)
	l.ok = ok
	if ok {
		l.got = bytes.Clone(k.secret)
	}
}
func (l *keyReader) Up(ev *layers.Event)    {}
func (l *keyReader) Down(ev *layers.Event)  {}
func (l *keyReader) Tick(now time.Duration) {}

func newKeyed(t *testing.T, k layers.Keys) (*layers.Stack, *keyReader) {
	t.Helper()
	r := &keyReader{}
	s, err := layers.New(layers.Config{View: layers.View{Group: 7, ID: 1, N: 2}, Keys: k}, bottom.New(), r)
	if err != nil {
		t.Fatal(err)
	}
	return s, r
}

func TestKeysReachLayerAndAreReleasedOnceAtEndView(t *testing.T) {
	k := &testKeys{secret: []byte("epoch 1 secret")}
	s, r := newKeyed(t, k)
	if !r.ok || string(r.got) != "epoch 1 secret" {
		t.Fatalf("layer read keys %q (type ok %v), want the epoch's secret", r.got, r.ok)
	}
	s.Tick(time.Millisecond)
	if k.releases != 0 {
		t.Fatalf("released %d times while the view runs", k.releases)
	}
	s.EndView()
	s.Close()
	s.EndView()
	if k.releases != 1 {
		t.Fatalf("released %d times, want exactly once", k.releases)
	}
	if !bytes.Equal(k.secret, make([]byte, len(k.secret))) {
		t.Fatal("secret not zeroed by its release")
	}
}

func TestKeysReleasedOnceAtClose(t *testing.T) {
	k := &testKeys{secret: []byte("s")}
	s, _ := newKeyed(t, k)
	s.Close()
	s.Close()
	s.EndView()
	if k.releases != 1 {
		t.Fatalf("released %d times, want exactly once", k.releases)
	}
}

func TestNoKeys(t *testing.T) {
	s, r := newKeyed(t, nil)
	if r.ok {
		t.Fatal("layer found keys in a stack built without")
	}
	s.EndView()
	s.Close()
}
