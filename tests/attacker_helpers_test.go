//go:build linux

package tests

// The data plane's attackers over real UDP: members run in this test
// process (conclave.Join, over UDP on loopback) beside `conclave member`
// processes, and keep every key they hold. Nothing is exported for them:
// a member's encrypt layer takes its Sealer from encrypt.Config.NewSealer
// (Config.Options, as any program may set it), and the attacker's Sealer
// seals and opens for its own layer as the default one does, but derives
// every sender's first generations when its view starts (the stack erases
// the epoch's secret tree when the view ends) and keeps them when the layer
// releases it, as a member that kept every key it held would.

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/secure"
	"github.com/conclave-go/conclave/transport"
)

// keptGenerations is how many generations of each sender a kept view
// holds: a test's members seal far fewer than keying.DatagramsPerBlock
// datagrams a view, so the first serves; the second is margin.
const keptGenerations = 2

// keyKeeper makes the Sealers of one attacker's encrypt layer, one per view,
// and keeps each view's keys after the view has ended. Safe for concurrent
// use: the member's driver seals and opens while the test attacks.
type keyKeeper struct {
	mu    sync.Mutex // guards views and every Block in them (a Block is not safe for concurrent use)
	views []*keptView
}

// keptView is the keys of one view: every sender's first generations.
type keptView struct {
	epoch   uint64
	rank, n int
	blocks  [][]*keying.Block // [rank][generation]
}

// newSealer is the attacker's encrypt.Config.NewSealer.
func (k *keyKeeper) newSealer(keys encrypt.Keys, rank, n int) (encrypt.Sealer, error) {
	ek, ok := keys.(*secure.EpochKeys)
	if !ok {
		return nil, fmt.Errorf("tests: keys of type %T, want a secured group's", keys)
	}
	v := &keptView{epoch: ek.Epoch, rank: rank, n: n, blocks: make([][]*keying.Block, n)}
	for r := range n {
		rt, err := keys.ApplicationRatchet(r)
		if err != nil {
			return nil, err
		}
		for g := range keptGenerations {
			var b *keying.Block
			if r == rank {
				b, err = rt.NextBlock()
			} else {
				b, err = rt.Block(uint32(g))
			}
			if err != nil {
				return nil, err
			}
			v.blocks[r] = append(v.blocks[r], b)
		}
	}
	k.mu.Lock()
	k.views = append(k.views, v)
	k.mu.Unlock()
	return &keptSealer{k: k, v: v}, nil
}

// view returns the kept view of an epoch, or nil.
func (k *keyKeeper) view(epoch uint64) *keptView {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, v := range k.views {
		if v.epoch == epoch {
			return v
		}
	}
	return nil
}

// destroy erases every kept key.
func (k *keyKeeper) destroy() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, v := range k.views {
		for _, bs := range v.blocks {
			for _, b := range bs {
				b.Destroy()
			}
		}
	}
}

// keptSealer is the Sealer of one view, for the attacker's own encrypt
// layer.
type keptSealer struct {
	k *keyKeeper
	v *keptView
}

var errNotKept = errors.New("tests: generation not kept")

func (s *keptSealer) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if gen >= keptGenerations {
		return dst, errNotKept
	}
	c, out, err := s.v.blocks[s.v.rank][gen].Seal(dst, aad, plaintext)
	if err == nil && c != counter {
		return dst, fmt.Errorf("tests: sealing counter %d, the block is at %d", counter, c)
	}
	return out, err
}

func (s *keptSealer) Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	s.k.mu.Lock()
	defer s.k.mu.Unlock()
	if sender < 0 || sender >= s.v.n || sender == s.v.rank || gen >= keptGenerations {
		return nil, errNotKept
	}
	return s.v.blocks[sender][gen].Open(dst, counter, aad, ciphertext)
}

// Retire keeps the keys: the attacker erases nothing.
func (s *keptSealer) Retire(sender int, gen uint32) {}

// Release keeps the keys too: the view has ended, and the attacker will
// try them on the views that follow.
func (s *keptSealer) Release() {}

// sealedHeader is what the encrypt layer puts after the bottom header.
type sealedHeader struct {
	hdr          bottom.Header
	toOne        bool // sent to its receiver alone
	gen, counter uint32
	sealed       []byte // the payload sealed, with its tag
}

// parseSealed parses a data datagram's bottom and encrypt headers.
func parseSealed(data []byte) (sealedHeader, bool) {
	hdr, err := bottom.Parse(data)
	if err != nil {
		return sealedHeader{}, false
	}
	rd := wire.NewReader(data[hdr.Len:])
	flag := rd.Byte()
	gen := rd.UvarintMax(math.MaxUint32)
	counter := rd.UvarintMax(keying.DatagramsPerBlock - 1)
	if rd.Err() != nil || flag > 1 || rd.Len() <= encrypt.Overhead {
		return sealedHeader{}, false
	}
	return sealedHeader{hdr: hdr, toOne: flag == 1, gen: uint32(gen), counter: uint32(counter), sealed: data[len(data)-rd.Len():]}, true
}

// The attacker knows the wire format, and builds the additional data
// of a datagram as a member's encrypt layer does: by running one. A stack
// of the bottom and encrypt layers alone, made for the datagram's group,
// view and a receiver's rank, receives it; its encrypt layer hands the
// attacker's sealer the additional data with the sealed bytes, and the
// sealer tries its kept keys on them. The same stack, made for a
// sender's rank, hands the sealer the additional data of that sender's
// multicast, which the attacker seals itself.

// noKeys stands for a view's key material in the stacks the attacker
// runs: their sealers hold the keys.
type noKeys struct{}

func (noKeys) Release() {}

func (noKeys) ApplicationRatchet(int) (*keying.Ratchet, error) {
	return nil, errors.New("tests: no ratchets here")
}

// encryptStack builds a stack of bottom and encrypt for view and rank,
// whose encrypt layer uses sealer.
func encryptStack(view layers.View, integrityOnly bool, sealer encrypt.Sealer) (*layers.Stack, error) {
	newSealer := func(encrypt.Keys, int, int) (encrypt.Sealer, error) { return sealer, nil }
	return compose.Build(layers.Config{View: view, Keys: noKeys{}}, []string{"bottom", "encrypt"},
		compose.Options{Layers: map[string]any{"encrypt": encrypt.Config{IntegrityOnly: integrityOnly, NewSealer: newSealer}}})
}

// trySealer opens with every sender's key of a kept view, whichever
// sender the datagram names, and keeps the first plaintext that comes
// out. It seals nothing.
type trySealer struct {
	v      *keptView
	opened bool
	plain  []byte
}

var errOpenOnly = errors.New("tests: this sealer only opens")

func (s *trySealer) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	return dst, errOpenOnly
}

func (s *trySealer) Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	if gen >= keptGenerations {
		return nil, errNotKept
	}
	for r := range s.v.n {
		// Into a buffer of its own: a failed open may clear its output,
		// which the layer placed over the ciphertext.
		if p, err := s.v.blocks[r][gen].Open(nil, counter, aad, ciphertext); err == nil {
			s.opened, s.plain = true, p
			return append(dst, p...), nil
		}
	}
	return nil, errNotKept
}

func (s *trySealer) Retire(int, uint32) {}
func (s *trySealer) Release()           {}

// open tries every kept key on a data datagram: every kept view's, every
// sender's, for every destination the datagram may have had, in both
// modes, as an attacker that knows the wire format but not which view's
// key sealed the datagram would. It returns the payload and the epoch of
// the keys that opened it.
func (k *keyKeeper) open(data []byte) (plain []byte, epoch uint64, ok bool) {
	sh, ok := parseSealed(data)
	if !ok || sh.gen >= keptGenerations {
		return nil, 0, false
	}
	sender := int(sh.hdr.Sender)
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, v := range k.views {
		n := max(v.n, sender+1, 2)
		for _, integrity := range []bool{false, true} {
			for rank := range n {
				if rank == sender {
					continue
				}
				try := &trySealer{v: v}
				st, err := encryptStack(layers.View{Group: sh.hdr.Group, ID: sh.hdr.View, Rank: rank, N: n}, integrity, try)
				if err != nil {
					panic(err)
				}
				st.Receive(bytes.Clone(data))
				switch {
				case try.opened && integrity:
					// The payload travels in clear, authenticated.
					return sh.sealed[:len(sh.sealed)-encrypt.Overhead], v.epoch, true
				case try.opened:
					return try.plain, v.epoch, true
				}
				if !sh.toOne {
					break // the destination is every member: one rank will do
				}
			}
		}
	}
	return nil, 0, false
}

// aadSealer keeps the additional data of the one datagram its layer
// seals, and seals nothing.
type aadSealer struct{ aad []byte }

func (s *aadSealer) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	s.aad = bytes.Clone(aad)
	return dst, errOpenOnly
}

func (s *aadSealer) Open([]byte, int, uint32, uint32, []byte, []byte) ([]byte, error) {
	return nil, errOpenOnly
}
func (s *aadSealer) Retire(int, uint32) {}
func (s *aadSealer) Release()           {}

// forge builds a multicast datagram with header hdr (type layers.ECast),
// sealed for every member with the key of rank keyRank in v, as datagram
// counter of the key's first generation. Sealing at a counter means
// stepping the block up to it: a block of another sender's is used by the
// layer only to open.
func (k *keyKeeper) forge(v *keptView, keyRank int, hdr hostile.Header, counter uint32, plaintext []byte) ([]byte, error) {
	if hdr.Type != layers.ECast {
		return nil, fmt.Errorf("tests: forging a %v, want a Cast", hdr.Type)
	}
	as := &aadSealer{}
	st, err := encryptStack(layers.View{Group: hdr.Group, ID: hdr.View, Rank: int(hdr.Sender), N: int(hdr.Sender) + 2}, false, as)
	if err != nil {
		return nil, err
	}
	st.Cast(plaintext)
	st.Flush()
	if as.aad == nil {
		return nil, errors.New("tests: the encrypt layer sealed no multicast")
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	b := v.blocks[keyRank][0]
	sent := uint32(keying.DatagramsPerBlock - b.Remaining())
	if sent > counter {
		return nil, fmt.Errorf("tests: the block of rank %d is at counter %d, past %d", keyRank, sent, counter)
	}
	for range counter - sent {
		if _, _, err := b.Seal(nil, nil, nil); err != nil {
			return nil, err
		}
	}
	data := hdr.Append(nil)
	data = append(data, 0) // for every member
	data = wire.AppendUvarint(data, 0)
	data = wire.AppendUvarint(data, uint64(counter))
	c, out, err := b.Seal(data, as.aad, plaintext)
	if err == nil && c != counter {
		err = fmt.Errorf("tests: sealed counter %d, want %d", c, counter)
	}
	return out, err
}

// inTestMember is a member of the group run by this test process over UDP
// on loopback, with conclave.Join as any program would, its encrypt layer's
// keys kept by keys.
type inTestMember struct {
	name string
	g    *conclave.Group
	keys *keyKeeper
	tap  *tapConn // nil unless asked for
	id   string   // its identity, "noise:…"

	notify chan struct{} // capacity 1: an event came
	mu     sync.Mutex    // guards the fields below
	views  []conclave.Event
	delivs []conclave.Event
}

// memberKey is a Noise key for an in-test member, whose public half the
// processes are told to admit.
type memberKey struct {
	key *noise.PrivateKey
	id  string
}

func newMemberKey(t *testing.T) memberKey {
	t.Helper()
	k, err := noise.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(k.Zero)
	return memberKey{key: k, id: k.Public().String()}
}

// joinOptions say how an in-test member joins.
type joinOptions struct {
	integrityOnly, senderAuth bool
	tap                       bool // record every datagram it receives, and let the test send from its address
	logger                    *slog.Logger
}

// joinInTest starts an in-test member of the processes' group, admitting
// the identities admit (and its own).
func joinInTest(t *testing.T, name string, key memberKey, procs []*memberProc, admit []string, o joinOptions) *inTestMember {
	t.Helper()
	m := &inTestMember{name: name, keys: &keyKeeper{}, id: key.id, notify: make(chan struct{}, 1)}
	t.Cleanup(m.keys.destroy)
	var seeds []netip.AddrPort
	for _, p := range procs {
		seeds = append(seeds, netip.MustParseAddrPort(p.addr))
		admit = append(admit, p.id)
	}
	prot := conclave.Private
	if o.integrityOnly {
		prot = conclave.IntegrityOnly
	}
	cfg := conclave.Config{
		Group:  groupOf(procs[0]),
		Listen: netip.MustParseAddrPort("127.0.0.1:0"),
		Seeds:  seeds,
		// The processes' timing (conclave member's defaults).
		Timing:     membership.Timing{Suspect: membership.DefaultTiming.Suspect, Flush: 2 * membership.DefaultTiming.Suspect, Stuck: 10 * membership.DefaultTiming.Suspect},
		Credential: noise.NewCredential(key.key),
		Admit:      auth.Allow(admit...),
		Protection: prot,
		SenderAuth: o.senderAuth,
		Options:    compose.Options{Layers: map[string]any{"encrypt": encrypt.Config{NewSealer: m.keys.newSealer}}},
		Logger:     o.logger,
	}
	if o.tap {
		uc, err := transport.ListenUDP(cfg.Listen, transport.UDPOptions{MaxDatagram: conclave.MaxDatagram})
		if err != nil {
			t.Fatal(err)
		}
		m.tap = &tapConn{Conn: uc}
		t.Cleanup(func() { uc.Close() })
		cfg.Conn = m.tap
	}
	g, err := conclave.Join(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	m.g = g
	t.Cleanup(func() { g.Close() })
	go func() {
		for ev := range g.Events() {
			m.mu.Lock()
			switch ev.Kind {
			case conclave.ViewChange:
				m.views = append(m.views, ev)
			case conclave.Message:
				m.delivs = append(m.delivs, ev)
			}
			m.mu.Unlock()
			select {
			case m.notify <- struct{}{}:
			default:
			}
		}
	}()
	return m
}

// waitFor waits until cond, called with m.mu held, reports done.
func (m *inTestMember) waitFor(deadline time.Time, what string, cond func() bool) error {
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		m.mu.Lock()
		done := cond()
		m.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-m.notify:
		case <-m.g.Done():
			return fmt.Errorf("in-test member %s stopped before %s", m.name, what)
		case <-timer.C:
			m.mu.Lock()
			defer m.mu.Unlock()
			return fmt.Errorf("in-test member %s: still no %s; views %v", m.name, what, m.viewList())
		}
	}
}

// viewList describes the member's views. m.mu is held.
func (m *inTestMember) viewList() []string {
	var s []string
	for _, v := range m.views {
		s = append(s, fmt.Sprintf("%v epoch %d %v", v.View.ID, v.Epoch, v.View.Members))
	}
	return s
}

// wires returns the wire ids of the views the member installed, by epoch.
func (m *inTestMember) wires() map[uint64]uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := map[uint64]uint64{}
	for _, v := range m.views {
		w[v.View.ID.Wire()] = v.Epoch
	}
	return w
}

// tapConn is an in-test member's UDP socket that records every datagram
// the member receives, and lets the test send from the member's address
// between the member's own writes (a Conn's writes must not overlap).
type tapConn struct {
	transport.Conn
	wmu sync.Mutex // serialises writes
	mu  sync.Mutex // guards in
	in  []transport.Incoming
}

func (c *tapConn) ReadBatch(pkts []transport.Incoming) (int, error) {
	n, err := c.Conn.ReadBatch(pkts)
	c.mu.Lock()
	for _, p := range pkts[:n] {
		c.in = append(c.in, transport.Incoming{From: p.From, Data: bytes.Clone(p.Data)})
	}
	c.mu.Unlock()
	return n, err
}

func (c *tapConn) WriteBatch(pkts []transport.Outgoing) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.Conn.WriteBatch(pkts)
}

// send sends one datagram from the member's address.
func (c *tapConn) send(to netip.AddrPort, data []byte) error {
	_, err := c.WriteBatch([]transport.Outgoing{{To: to, Data: data}})
	return err
}

// received returns what the member has received so far.
func (c *tapConn) received() []transport.Incoming {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.in)
}

// wireTap records, from the loopback interface, the data datagrams (not
// membership control messages) of one group, whoever sends them to whom,
// as anyone on the network path can.
type wireTap struct {
	fd    int
	group uint64
	stop  chan struct{}
	done  chan struct{}
	mu    sync.Mutex // guards got, err and marks
	got   []udpDatagram
	err   error
	marks map[string]chan struct{} // closed when the datagram of that payload was read
}

// startWireTap starts recording; it skips the test without the
// privileges a packet socket needs (CAP_NET_RAW). A cleanup stops it.
func startWireTap(t *testing.T, group string) *wireTap {
	t.Helper()
	fd, err := newLoopbackSniffer()
	if err != nil {
		t.Skipf("capturing on loopback: %v (needs CAP_NET_RAW)", err)
	}
	// A large buffer, so that a burst of the group's traffic is not lost
	// before this goroutine reads it.
	syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUFFORCE, 16<<20)
	w := &wireTap{fd: fd, group: conclave.GroupID(group), stop: make(chan struct{}), done: make(chan struct{}), marks: map[string]chan struct{}{}}
	go w.run()
	t.Cleanup(w.close)
	return w
}

func (w *wireTap) run() {
	defer close(w.done)
	for {
		select {
		case <-w.stop:
			return
		default:
		}
		d, ok, err := readLoopback(w.fd)
		if err != nil {
			w.mu.Lock()
			w.err = err
			w.mu.Unlock()
			return
		}
		if !ok || len(d.payload) == 0 || d.payload[0] == membership.Magic {
			continue
		}
		w.mu.Lock()
		if c, ok := w.marks[string(d.payload)]; ok {
			close(c)
			delete(w.marks, string(d.payload))
		}
		w.mu.Unlock()
		if hdr, err := bottom.Parse(d.payload); err != nil || hdr.Group != w.group {
			continue
		}
		w.mu.Lock()
		w.got = append(w.got, d)
		w.mu.Unlock()
	}
}

func (w *wireTap) close() {
	select {
	case <-w.stop:
		return
	default:
	}
	close(w.stop)
	<-w.done
	syscall.Close(w.fd)
}

// datagrams returns what was sent on the loopback interface up to now,
// or the error that stopped the recording. The recording runs behind the
// wire: a datagram of its own, sent now, marks where it must catch up to,
// since the interface hands packets over in the order it carried them.
func (w *wireTap) datagrams() ([]udpDatagram, error) {
	var b [16]byte
	rand.Read(b[:])
	mark := "wire tap mark " + fmt.Sprintf("%x", b)
	done := make(chan struct{})
	w.mu.Lock()
	w.marks[mark] = done
	w.mu.Unlock()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, err
	}
	defer c.Close()
	if _, err := c.WriteToUDP([]byte(mark), c.LocalAddr().(*net.UDPAddr)); err != nil {
		return nil, err
	}
	select {
	case <-done:
	case <-w.done:
	case <-time.After(30 * time.Second):
		return nil, errors.New("tests: the recording did not catch up with the wire in 30s")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.got), w.err
}

// readCounters asks a member process for its counters (SIGUSR1) and
// returns them.
func readCounters(t *testing.T, p *memberProc) map[string]uint64 {
	t.Helper()
	p.mu.Lock()
	p.counters = nil
	p.mu.Unlock()
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	var c map[string]uint64
	err := p.waitFor(time.Now().Add(10*time.Second), "counters", func() (bool, error) {
		c = p.counters
		return c != nil, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// awaitMembers waits until every process is in a view of n members and
// the in-test members too, all the same view, and returns it as the
// processes see it.
func awaitMembers(t *testing.T, procs []*memberProc, ins []*inTestMember, n int) procView {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	var id string
	for _, p := range procs {
		err := p.waitFor(deadline, fmt.Sprintf("a view of %d members", n), func() (bool, error) {
			v := p.currentView()
			return len(v.members) == n && (id == "" || v.id == id), nil
		})
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		id = p.currentView().id
		p.mu.Unlock()
	}
	for _, m := range ins {
		err := m.waitFor(deadline, fmt.Sprintf("view %s", id), func() bool {
			return len(m.views) > 0 && m.views[len(m.views)-1].View.ID.String() == id
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	procs[0].mu.Lock()
	defer procs[0].mu.Unlock()
	return procs[0].currentView()
}

// checkOnlyLines checks that every process delivered only lines whose
// text starts with one of the prefixes, each at most once, and printed no
// malformed output.
func checkOnlyLines(t *testing.T, procs []*memberProc, prefixes ...string) {
	t.Helper()
	for _, p := range procs {
		p.mu.Lock()
		seen := map[string]bool{}
		for _, d := range p.delivs {
			if seen[d.from+" "+d.data] || !slices.ContainsFunc(prefixes, func(pre string) bool { return strings.HasPrefix(d.data, pre) }) {
				t.Errorf("member %d delivered %q from %s again or from nowhere", p.index, d.data, d.from)
			}
			seen[d.from+" "+d.data] = true
		}
		if len(p.bad) > 0 {
			t.Errorf("member %d printed malformed output: %v", p.index, p.bad)
		}
		p.mu.Unlock()
	}
}

// skipIfStarved skips the test when a process is no longer in view full
// and a member's log (a process's, or the in-test members' plog) shows a
// pause past the failure detector's timeout since the view was installed:
// the machine starved the members, the view changed through no attack,
// and the attacks' outcome is no longer what the test can check. A view
// change without such a pause is left to the test to report.
func skipIfStarved(t *testing.T, procs []*memberProc, plog *protocolLog, full procView, since time.Time) {
	t.Helper()
	var moved []string
	var pauses []pause
	for _, p := range procs {
		p.mu.Lock()
		if v := p.currentView(); v.id != full.id {
			moved = append(moved, fmt.Sprintf("member %d to %v", p.index, v))
		}
		pauses = append(pauses, p.pauses...)
		p.mu.Unlock()
	}
	if len(moved) == 0 {
		return
	}
	if plog != nil {
		pauses = append(pauses, plog.Pauses()...)
	}
	if why := pausesExplaining(pauses, membership.DefaultTiming.Suspect, since, time.Now()); len(why) > 0 {
		t.Skipf("the view %v changed (%s) as members were paused past the failure detector's timeout (%v): the machine starved them, and the attacks' outcome cannot be checked",
			full, strings.Join(moved, ", "), why)
	}
}

// dropDelta is how much the counters named grew from before to after.
func dropDelta(before, after map[string]uint64, names ...string) uint64 {
	var n uint64
	for _, k := range names {
		n += after[k] - before[k]
	}
	return n
}

// writeLines has every process multicast "<prefix> i-k", k < n.
func writeLines(procs []*memberProc, prefix string, n int) {
	for i, p := range procs {
		for k := range n {
			fmt.Fprintf(p.stdin, "%s %d-%d\n", prefix, i, k)
		}
	}
}
