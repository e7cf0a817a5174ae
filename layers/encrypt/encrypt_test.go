package encrypt

import (
	"bytes"
	"fmt"
	"math"
	"testing"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// testKeys are one member's copy of an epoch's secret tree, made from a
// secret the test chooses: members with the same secret share the epoch.
type testKeys struct {
	tree     *keying.SecretTree
	released bool
}

func (k *testKeys) Release() { k.tree.Destroy(); k.released = true }

func (k *testKeys) ApplicationRatchet(r int) (*keying.Ratchet, error) {
	return k.tree.Ratchet(uint32(r), keying.ApplicationRatchet)
}

func newKeys(t testing.TB, epoch byte) *testKeys {
	t.Helper()
	s, err := crypto.LookupSuite(crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519)
	if err != nil {
		t.Fatal(err)
	}
	secret := bytes.Repeat([]byte{epoch}, s.HashSize())
	tree, err := keying.NewSecretTree(s, secret, 4)
	if err != nil {
		t.Fatal(err)
	}
	return &testKeys{tree: tree}
}

const testGroup, testView = 7, 3

// member is one stack of bottom and encrypt.
type member struct {
	t   testing.TB
	s   *layers.Stack
	got []layers.Delivery
}

func newMember(t testing.TB, rank, n int, keys layers.Keys, cfg Config) *member {
	t.Helper()
	s, err := layers.New(layers.Config{View: layers.View{Group: testGroup, ID: testView, Rank: rank, N: n}, Keys: keys}, bottom.New(), New(cfg))
	if err != nil {
		t.Fatal(err)
	}
	return &member{t: t, s: s}
}

// group makes n members of one epoch.
func group(t testing.TB, n int, cfg Config) []*member {
	ms := make([]*member, n)
	for r := range ms {
		ms[r] = newMember(t, r, n, newKeys(t, 1), cfg)
	}
	return ms
}

// out collects the datagrams the member sent, copied.
func (m *member) out() [][]byte {
	m.s.Flush()
	var d [][]byte
	for _, p := range m.s.Ready().Packets {
		d = append(d, bytes.Clone(p.Data))
	}
	m.s.Advance()
	return d
}

func (m *member) cast(data string) []byte {
	m.t.Helper()
	m.s.Cast([]byte(data))
	d := m.out()
	if len(d) != 1 {
		m.t.Fatalf("a cast sent %d datagrams", len(d))
	}
	return d[0]
}

func (m *member) send(to int, data string) []byte {
	m.t.Helper()
	m.s.Send(to, []byte(data))
	d := m.out()
	if len(d) != 1 {
		m.t.Fatalf("a send sent %d datagrams", len(d))
	}
	return d[0]
}

// feed hands the member a copy of datagram d (the layer opens datagrams
// in place) and reports whether it was accepted; deliveries are kept.
func (m *member) feed(d []byte) bool {
	ok := m.s.Receive(bytes.Clone(d))
	m.s.Flush()
	for _, dl := range m.s.Ready().Deliveries {
		dl.Data = bytes.Clone(dl.Data)
		m.got = append(m.got, dl)
	}
	m.s.Advance()
	return ok
}

func (m *member) drops(reason string) uint64 { return m.s.Counter("encrypt", "drop."+reason) }

// bottomLen is the length of the bottom header of datagram d.
func bottomLen(t testing.TB, d []byte) int {
	h, err := bottom.Parse(d)
	if err != nil {
		t.Fatal(err)
	}
	return h.Len
}

func TestCastAndSendDelivered(t *testing.T) {
	ms := group(t, 3, Config{})
	secret := "the quick brown fox"
	d := ms[0].cast(secret)
	if bytes.Contains(d, []byte("quick")) {
		t.Fatal("the payload travels in clear")
	}
	if !ms[1].feed(d) || !ms[2].feed(d) {
		t.Fatal("a member's cast was refused")
	}
	u := ms[2].send(1, "to one")
	if !ms[1].feed(u) {
		t.Fatal("a member's send was refused")
	}
	want := []layers.Delivery{{Type: layers.ECast, From: 0, Data: []byte(secret)}, {Type: layers.ESend, From: 2, Data: []byte("to one")}}
	if fmt.Sprint(ms[1].got) != fmt.Sprint(want) {
		t.Fatalf("member 1 delivered %v, want %v", ms[1].got, want)
	}
	if len(d) != len(secret)+bottomLen(t, d)+3+Overhead {
		t.Fatalf("datagram of %d bytes for %d of payload", len(d), len(secret))
	}
}

// The same datagram a second time is dropped as a replay, and so is every
// older datagram once the window has moved past it.
func TestReplayDropped(t *testing.T) {
	ms := group(t, 2, Config{})
	first := ms[0].cast("one")
	if !ms[1].feed(first) {
		t.Fatal("refused")
	}
	if ms[1].feed(first) || ms[1].drops("replay") != 1 || len(ms[1].got) != 1 {
		t.Fatalf("replay accepted: %d delivered, %d replays counted", len(ms[1].got), ms[1].drops("replay"))
	}
	// Out of order within the window is fine, once.
	var held [][]byte
	for i := range ReplayWindow + 10 {
		held = append(held, ms[0].cast(fmt.Sprint(i)))
	}
	if !ms[1].feed(held[len(held)-1]) || !ms[1].feed(held[len(held)-ReplayWindow]) {
		t.Fatal("a datagram within the window was refused")
	}
	if ms[1].feed(held[len(held)-ReplayWindow]) {
		t.Fatal("a reordered datagram was accepted twice")
	}
	if ms[1].feed(held[0]) || ms[1].drops("replay") != 3 {
		t.Fatalf("a datagram older than the window was accepted (%d replays)", ms[1].drops("replay"))
	}
}

// A member of another epoch (other keys) cannot inject: the same view,
// group and sender, but the datagram does not open.
func TestOtherEpochDropped(t *testing.T) {
	ms := group(t, 2, Config{})
	stranger := newMember(t, 0, 2, newKeys(t, 2), Config{})
	if ms[1].feed(stranger.cast("from another epoch")) || ms[1].drops("forged") != 1 || len(ms[1].got) != 0 {
		t.Fatal("a datagram of another epoch was accepted")
	}
	// The member's own stream is not disturbed.
	if !ms[1].feed(ms[0].cast("ok")) {
		t.Fatal("refused after the stranger")
	}
}

// A unicast to rank 1 replayed to rank 2, with the same header and an
// unknown counter at rank 2, does not open there: the destination is
// authenticated.
func TestUnicastReplayedToOtherMemberDropped(t *testing.T) {
	ms := group(t, 3, Config{})
	d := ms[0].send(1, "for 1 alone")
	if ms[2].feed(d) || ms[2].drops("forged") != 1 || len(ms[2].got) != 0 {
		t.Fatal("a unicast to member 1 was delivered at member 2")
	}
	if !ms[1].feed(d) {
		t.Fatal("member 1 refused its unicast")
	}
	// Nor can the destination byte be turned into "every member".
	e := ms[0].send(1, "again")
	e[bottomLen(t, e)] = destAll
	if ms[2].feed(e) || ms[1].feed(e) {
		t.Fatal("a unicast turned into a multicast was accepted")
	}
}

// Any byte changed anywhere in a datagram, header or payload, and it is
// refused; nothing is delivered.
func TestTamperedByteDropped(t *testing.T) {
	for _, cfg := range []Config{{}, {IntegrityOnly: true}} {
		ms := group(t, 2, cfg)
		d := ms[0].cast("tamper with me")
		for i := range d {
			for _, bit := range []byte{1, 0x80} {
				e := bytes.Clone(d)
				e[i] ^= bit
				if ms[1].feed(e) {
					t.Fatalf("integrity only %v: byte %d changed (^%#x) and accepted", cfg.IntegrityOnly, i, bit)
				}
			}
		}
		if len(ms[1].got) != 0 || ms[1].drops("forged") == 0 {
			t.Fatalf("integrity only %v: %d delivered, %d forged counted", cfg.IntegrityOnly, len(ms[1].got), ms[1].drops("forged"))
		}
		if !ms[1].feed(d) {
			t.Fatal("the original was refused after the forgeries")
		}
	}
}

// header decodes the layer's header of datagram d.
func header(t testing.TB, d []byte) (flag byte, gen, counter uint64) {
	r := wire.NewReader(d[bottomLen(t, d):])
	flag, gen, counter = r.Byte(), r.Uvarint(), r.Uvarint()
	if r.Err() != nil {
		t.Fatal(r.Err())
	}
	return
}

// A sender moves to the next generation after DatagramsPerBlock datagrams,
// with no view change, and receivers follow, datagrams reordered across
// the change included.
func TestGenerationRatchet(t *testing.T) {
	if testing.Short() {
		t.Skip("seals 2^16 datagrams")
	}
	ms := group(t, 2, Config{})
	var late []byte
	for i := range 2*keying.DatagramsPerBlock + 10 {
		d := ms[0].cast("x")
		_, gen, counter := header(t, d)
		if want := uint64(i / keying.DatagramsPerBlock); gen != want || counter != uint64(i%keying.DatagramsPerBlock) {
			t.Fatalf("datagram %d: generation %d counter %d", i, gen, counter)
		}
		if i == keying.DatagramsPerBlock-1 {
			late = d
			continue
		}
		if !ms[1].feed(d) {
			t.Fatalf("datagram %d refused", i)
		}
		if i == keying.DatagramsPerBlock && !ms[1].feed(late) {
			t.Fatal("the last datagram of generation 0, after generation 1's first, was refused")
		}
	}
	if ms[1].feed(late) {
		t.Fatal("a datagram of generation 0 was accepted twice")
	}
	if len(ms[1].got) != 2*keying.DatagramsPerBlock+10 {
		t.Fatalf("%d delivered", len(ms[1].got))
	}
	// The receiver keeps generations 1 and 2 only: 0's keys are erased.
	if n := ms[1].s.Layer("encrypt").(*Layer).sealer.(*blockSealer).held(); n != 2 {
		t.Fatalf("the receiver holds %d generations' keys", n)
	}
}

// hostile builds a datagram from sender 0 with the given layer header
// bytes and a payload long enough to hold a tag.
func hostile(hdr ...byte) []byte {
	d := []byte{bottom.Version}
	d = wire.AppendUint64(d, testGroup)
	d = wire.AppendUvarint(d, testView)
	d = wire.AppendUvarint(d, 0)
	d = append(d, byte(layers.ECast))
	d = append(d, hdr...)
	return append(d, bytes.Repeat([]byte{0xaa}, Overhead+8)...)
}

// Headers with numbers out of every bound are dropped before any key is
// derived, by reason; the receiver keeps no key for them.
func TestHostileHeaders(t *testing.T) {
	uv := func(xs ...uint64) []byte {
		var b []byte
		for _, x := range xs {
			b = wire.AppendUvarint(b, x)
		}
		return b
	}
	for _, c := range []struct {
		name   string
		hdr    []byte
		reason string
	}{
		{"generation 2^64-1", append([]byte{0}, uv(math.MaxUint64, 0)...), "malformed"},
		{"counter 2^64-1", append([]byte{0}, uv(0, math.MaxUint64)...), "malformed"},
		{"generation 2^32", append([]byte{0}, uv(1<<32, 0)...), "malformed"},
		{"counter 2^16", append([]byte{0}, uv(0, keying.DatagramsPerBlock)...), "malformed"},
		{"generation 2^32-1", append([]byte{0}, uv(math.MaxUint32, 0)...), "generation"},
		{"generation too far ahead", append([]byte{0}, uv(MaxGenerationsAhead+1, 0)...), "generation"},
		{"destination 2", append([]byte{2}, uv(0, 0)...), "malformed"},
		{"non-minimal generation", []byte{0, 0x80, 0x00, 0}, "malformed"},
		{"truncated varint", []byte{0, 0xff}, "malformed"},
	} {
		m := newMember(t, 1, 2, newKeys(t, 1), Config{})
		if m.feed(hostile(c.hdr...)) || m.drops(c.reason) != 1 {
			t.Errorf("%s: accepted or not counted as %s", c.name, c.reason)
		}
		if n := m.s.Layer("encrypt").(*Layer).sealer.(*blockSealer).held(); n != 0 {
			t.Errorf("%s: %d generations' keys derived", c.name, n)
		}
	}
	// Once a generation is authenticated, the window is counted from it.
	m := newMember(t, 1, 2, newKeys(t, 1), Config{})
	if !m.feed(newMember(t, 0, 2, newKeys(t, 1), Config{}).cast("genuine")) {
		t.Fatal("refused")
	}
	if m.feed(hostile(0, MaxGenerationsAhead+1, 0)) || m.drops("generation") != 1 {
		t.Error("a generation past the window of the authenticated one was accepted")
	}
	if n := m.s.Layer("encrypt").(*Layer).sealer.(*blockSealer).held(); n != 1 {
		t.Errorf("%d generations' keys derived", n)
	}
	// Too short to hold a tag and a byte.
	m = newMember(t, 1, 2, newKeys(t, 1), Config{})
	d := hostile(0, 0, 0)
	if m.feed(d[:len(d)-9]) || m.drops("malformed") != 1 {
		t.Error("a datagram without room for the tag was accepted")
	}
	// A generation just inside the window derives at most
	// MaxGenerationsAhead+1 keys, once.
	if m.feed(hostile(0, MaxGenerationsAhead, 0)) || m.drops("forged") != 1 {
		t.Error("a forged datagram at the window's edge was accepted")
	}
	if n := m.s.Layer("encrypt").(*Layer).sealer.(*blockSealer).held(); n != MaxGenerationsAhead+1 {
		t.Errorf("%d generations' keys held", n)
	}
	if l := m.s.Layer("encrypt").(*Layer); l.Footprint() > l.FootprintBound() {
		t.Errorf("footprint %d over its bound %d", l.Footprint(), l.FootprintBound())
	}
}

// In integrity-only mode the payload is readable on the wire, and still
// authenticated.
func TestIntegrityOnly(t *testing.T) {
	ms := group(t, 2, Config{IntegrityOnly: true})
	d := ms[0].cast("readable by all")
	if !bytes.Contains(d, []byte("readable by all")) {
		t.Fatal("the payload is not in clear")
	}
	e := bytes.Clone(d)
	i := bytes.Index(e, []byte("readable"))
	e[i] = 'R'
	if ms[1].feed(e) || ms[1].drops("forged") != 1 {
		t.Fatal("a changed payload was accepted")
	}
	if !ms[1].feed(d) || string(ms[1].got[0].Data) != "readable by all" {
		t.Fatal("the datagram was not delivered intact")
	}
	// A private member of the same epoch opens none of it, nor the reverse.
	priv := newMember(t, 1, 2, newKeys(t, 1), Config{})
	if priv.feed(d) {
		t.Fatal("a private member accepted an integrity-only datagram")
	}
	if ms[1].feed(newMember(t, 0, 2, newKeys(t, 1), Config{}).cast("private")) {
		t.Fatal("an integrity-only member accepted a private datagram")
	}
}

// wrongKeys are key material of another kind.
type wrongKeys struct{}

func (wrongKeys) Release() {}

// Without keys of the right type the layer sends nothing and accepts
// nothing, and counts both.
func TestWithoutKeysNothingPasses(t *testing.T) {
	for _, keys := range []layers.Keys{nil, wrongKeys{}} {
		m := newMember(t, 0, 2, keys, Config{})
		m.s.Cast([]byte("x"))
		if d := m.out(); len(d) != 0 || m.drops("no_keys") != 1 {
			t.Fatalf("keys %T: sent %d datagrams", keys, len(d))
		}
		good := group(t, 2, Config{})[1].cast("y")
		m1 := newMember(t, 0, 2, keys, Config{})
		if m1.feed(good) || m1.drops("no_keys") != 1 {
			t.Fatalf("keys %T: a datagram was accepted", keys)
		}
	}
}

// At the end of the view the layer drops its keys before the stack
// releases the epoch's, and seals nothing afterwards.
func TestViewEndErasesKeys(t *testing.T) {
	k := newKeys(t, 1)
	m := newMember(t, 0, 2, k, Config{})
	m.cast("before")
	l := m.s.Layer("encrypt").(*Layer)
	bs := l.sealer.(*blockSealer)
	m.s.EndView()
	if l.sealer != nil || bs.own != nil || !bs.gone || !k.released {
		t.Fatal("keys survive the end of the view")
	}
}

func init() {
	layers.Register(layers.Registration{
		Name: "encrypttest",
		Doc:  "test-only: a layer with no placement",
		New:  func(any) (layers.Layer, error) { return nil, nil },
	})
}

func TestPlacedDirectlyAboveBottom(t *testing.T) {
	if err := layers.CheckPlacement([]string{"bottom", "encrypt", "encrypttest"}); err != nil {
		t.Fatal(err)
	}
	if err := layers.CheckPlacement([]string{"bottom", "encrypttest", "encrypt"}); err == nil {
		t.Fatal("encrypt accepted above another layer than bottom")
	}
}

// recorder is a Sealer that records the nonces the layer gives it and
// hands the work to the default one.
type recorder struct {
	Sealer
	sealed map[[2]uint32]bool
}

func (r *recorder) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	k := [2]uint32{gen, counter}
	if r.sealed[k] {
		return dst, errCounter
	}
	r.sealed[k] = true
	return r.Sealer.Seal(dst, gen, counter, aad, plaintext)
}

// The layer hands sealing to the sealer it is given, with a fresh
// (generation, counter) for every datagram, casts and sends alike.
func TestGivenSealerUsed(t *testing.T) {
	rec := &recorder{sealed: map[[2]uint32]bool{}}
	cfg := Config{NewSealer: func(keys Keys, rank, n int) (Sealer, error) {
		rec.Sealer = NewBlockSealer(keys, rank, n)
		return rec, nil
	}}
	ms := []*member{newMember(t, 0, 3, newKeys(t, 1), cfg), newMember(t, 1, 3, newKeys(t, 1), Config{})}
	for i := range 50 {
		var d []byte
		if i%2 == 0 {
			d = ms[0].cast("c")
		} else {
			d = ms[0].send(1, "s")
		}
		if !ms[1].feed(d) {
			t.Fatalf("datagram %d refused", i)
		}
	}
	if len(rec.sealed) != 50 || ms[0].drops("seal") != 0 {
		t.Fatalf("the sealer saw %d datagrams, %d failed", len(rec.sealed), ms[0].drops("seal"))
	}
}
