package private_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/private"
)

// fakeKeys is one member's key material of an epoch: the suite, every
// member's leaf HPKE and signature public keys and this member's private
// ones, as membership/secure hands them to a stack.
type fakeKeys struct {
	suite    *crypto.Suite
	epoch    uint64
	pubs     []*crypto.KEMPublicKey
	priv     *crypto.KEMPrivateKey
	verify   [][]byte // signature public keys by rank
	sign     *crypto.SigningKey
	released bool
}

func (k *fakeKeys) PairSuite() *crypto.Suite { return k.suite }
func (k *fakeKeys) PairEpoch() uint64        { return k.epoch }
func (k *fakeKeys) PairPublicKey(rank int) *crypto.KEMPublicKey {
	if rank < 0 || rank >= len(k.pubs) {
		return nil
	}
	return k.pubs[rank]
}
func (k *fakeKeys) PairPrivateKey() *crypto.KEMPrivateKey {
	if k.released {
		return nil
	}
	return k.priv
}
func (k *fakeKeys) Release() { k.released = true }
func (k *fakeKeys) SenderSign(label string, content []byte) ([]byte, error) {
	return k.suite.SignWithLabel(k.sign, label, content)
}
func (k *fakeKeys) SenderVerify(rank int, label string, content, sig []byte) bool {
	return rank >= 0 && rank < len(k.verify) && k.suite.VerifyWithLabel(k.verify[rank], label, content, sig) == nil
}

var _ private.Keys = (*fakeKeys)(nil)

// groupKeys makes the leaf key pairs of an n-member epoch, from a seeded
// reader so that runs repeat.
func groupKeys(t testing.TB, id crypto.SuiteID, n int) []*fakeKeys {
	t.Helper()
	suite, err := crypto.LookupSuite(id)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.NewChaCha8([32]byte{byte(id), byte(n)})
	privs := make([]*crypto.KEMPrivateKey, n)
	pubs := make([]*crypto.KEMPublicKey, n)
	for i := range privs {
		if privs[i], err = suite.GenerateKeyPair(rng); err != nil {
			t.Fatal(err)
		}
		pubs[i] = privs[i].PublicKey()
	}
	signs := make([]*crypto.SigningKey, n)
	verify := make([][]byte, n)
	for i := range signs {
		if signs[i], err = suite.GenerateSigningKey(rng); err != nil {
			t.Fatal(err)
		}
		verify[i] = signs[i].PublicKey()
	}
	ks := make([]*fakeKeys, n)
	for i := range ks {
		ks[i] = &fakeKeys{suite: suite, epoch: 5, pubs: pubs, priv: privs[i], verify: verify, sign: signs[i]}
	}
	return ks
}

var (
	protected = []string{"bottom", "pt2pt", "private"}
	plain     = []string{"bottom", "pt2pt"}
)

// datagram is one datagram a member sent, as the network saw it.
type datagram struct {
	from, to int
	data     []byte
}

// group is a view of members on a loss-free network the test steps: each
// step ticks every member and hands over what they sent.
type group struct {
	t       testing.TB
	members []*layers.Stack
	keys    []*fakeKeys
	now     time.Duration
	flight  []datagram
	// seen is every datagram sent, in order.
	seen []datagram
	// got is what each member delivered of point-to-point messages, each
	// as "from:data".
	got [][]string
	// alter, when set, may change or drop (nil) a datagram in flight.
	alter func(d datagram) []byte
}

func newGroup(t testing.TB, n int, names []string, cfg private.Config) *group {
	t.Helper()
	return newGroupKeys(t, names, cfg, groupKeys(t, crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519, n))
}

func newGroupKeys(t testing.TB, names []string, cfg private.Config, ks []*fakeKeys) *group {
	t.Helper()
	g := &group{t: t, keys: ks, got: make([][]string, len(ks))}
	for r := range ks {
		c := layers.Config{View: layers.View{Group: lt.Group, ID: lt.ViewID, Rank: r, N: len(ks)}, Seed: 1}
		if ks[r] != nil {
			c.Keys = ks[r]
		}
		s, err := compose.Build(c, names, compose.Options{Layers: map[string]any{"private": cfg}})
		if err != nil {
			t.Fatal(err)
		}
		g.members = append(g.members, s)
	}
	return g
}

// send sends messages from one member to another and takes its output.
func (g *group) send(from, to int, msgs ...string) {
	for _, m := range msgs {
		g.members[from].Send(to, []byte(m))
	}
	g.collect(from)
}

// collect takes member r's deliveries and datagrams.
func (g *group) collect(r int) {
	s := g.members[r]
	s.Flush()
	rd := s.Ready()
	for _, d := range rd.Deliveries {
		if !d.Multicast() {
			g.got[r] = append(g.got[r], fmt.Sprintf("%d:%s", d.From, d.Data))
		}
	}
	for _, p := range rd.Packets {
		for to := range g.members {
			if to != r && (p.To == layers.AllPeers || p.To == to) {
				d := datagram{r, to, bytes.Clone(p.Data)}
				g.seen = append(g.seen, d)
				g.flight = append(g.flight, d)
			}
		}
	}
	s.Advance()
}

// run steps the network until nothing is in flight and d has passed.
func (g *group) run(d time.Duration) {
	for end := g.now + d; g.now < end || len(g.flight) > 0; {
		g.now += time.Millisecond
		for r, s := range g.members {
			s.Tick(g.now)
			g.collect(r)
		}
		arriving := g.flight
		g.flight = nil
		for _, f := range arriving {
			data := f.data
			if g.alter != nil {
				if data = g.alter(f); data == nil {
					continue
				}
			}
			g.members[f.to].Receive(data)
			g.collect(f.to)
		}
		if g.now > end+time.Second {
			g.t.Fatal("the network never went quiet")
		}
	}
}

// feed hands a datagram to member r directly, as an attacker would, and
// reports whether its stack accepted it.
func (g *group) feed(r int, data []byte) bool {
	ok := g.members[r].Receive(bytes.Clone(data))
	g.collect(r)
	return ok
}

func (g *group) counter(r int, name string) uint64 { return g.members[r].Counter("private", name) }
