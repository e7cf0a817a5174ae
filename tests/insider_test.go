//go:build linux

package tests

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// TestInsiderForgesNoMulticast runs a secured group with sender
// authentication (--sender-auth) of three `conclave member` processes over
// UDP on loopback, and an insider: a member run by this test that holds
// every key of the view, as every member does, and keeps them at hand.
// One process, the victim, multicasts a line; the insider takes the
// datagram that carried it to itself, opens it, makes of it the victim's
// next multicast with other text (the victim's next sequence number, the
// signature of the line it copied), seals it with the victim's key of the
// view at a datagram counter the victim has not reached, and sends it to
// the two other processes. The encrypt layer takes it (the insider's keys
// are good), the sign layer must not: neither process delivers the forged
// text, each counts the batch as forged (sign.drop.forged), and nothing
// was dropped by the encrypt layer there, so that the forgery met the
// signature check. The group goes on in the same view and delivers every
// line multicast afterwards.
//
// The forgery takes the victim's sequence number at the two processes, so
// that the victim's real multicast with that number is lost there (the
// sign layer's documented limit: an insider can deny service, never have a
// forgery delivered); the test only logs it.
func TestInsiderForgesNoMulticast(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three conclave processes; skipped with -short")
	}
	bin := buildConclave(t)
	key := newMemberKey(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3, "--sender-auth", "--allow", key.id)
	awaitOneView(t, procs)
	logger, plog := newProtocolLog(t)
	ins := joinInTest(t, "insider", key, procs, nil, joinOptions{senderAuth: true, tap: true, logger: logger})
	full := awaitMembers(t, procs, []*inTestMember{ins}, 4)
	fullAt := time.Now()
	victim, others := procs[0], procs[1:]

	// The victim multicasts a line; every member delivers it.
	const first = "victim 0"
	fmt.Fprintln(victim.stdin, first)
	deadline := time.Now().Add(20 * time.Second)
	awaitDelivered(t, deadline, procs, ins, victim, first)

	// The insider finds the datagram that carried it.
	victimAddr := netip.MustParseAddrPort(victim.addr)
	var (
		body    []byte
		sh      sealedHeader
		counter uint32
		epoch   uint64
	)
	for _, in := range ins.tap.received() {
		if in.From != victimAddr {
			continue
		}
		h, ok := parseSealed(in.Data)
		if !ok {
			continue
		}
		counter = max(counter, h.counter)
		plain, e, ok := ins.keys.open(in.Data)
		if !ok {
			t.Fatalf("the insider cannot open a datagram from the victim: view %x (the insider's views: %v), type %v, to one %v, generation %d, counter %d, %d bytes",
				h.hdr.View, ins.wires(), h.hdr.Type, h.toOne, h.gen, h.counter, len(in.Data))
		}
		if b, ok := castBody(h.hdr.Type, plain, first); ok {
			body, sh, epoch = b, h, e
		}
	}
	if body == nil {
		t.Fatalf("the insider received no datagram with the victim's line %q", first)
	}

	// The forgery: the victim's next multicast, with other text.
	seq, n := binary.Uvarint(body)
	if n <= 0 {
		t.Fatalf("the victim's multicast does not start with a sequence number: %x", body)
	}
	const forgedText = "victim FORGED"
	forged := binary.AppendUvarint(nil, seq+1)
	forged = append(forged, body[n:len(body)-len(first)]...)
	forged = append(forged, forgedText...)
	v := ins.keys.view(epoch)
	data, err := ins.keys.forge(v, int(sh.hdr.Sender), hostile.Header{Group: sh.hdr.Group, View: sh.hdr.View, Sender: sh.hdr.Sender, Type: layers.ECast},
		counter+500, forged)
	if err != nil {
		t.Fatal(err)
	}
	before := map[*memberProc]map[string]uint64{}
	for _, p := range others {
		before[p] = readCounters(t, p)
	}
	for _, p := range others {
		if err := ins.tap.send(netip.MustParseAddrPort(p.addr), data); err != nil {
			t.Fatal(err)
		}
	}

	// The victim's next line, whose sequence number the forgery took at
	// the others; then more, in batches of their own, and every member's.
	const taken = "victim 1"
	fmt.Fprintln(victim.stdin, taken)
	if err := ins.waitFor(time.Now().Add(20*time.Second), taken, func() bool { return ins.deliveredLocked(taken) }); err != nil {
		t.Fatal(err)
	}
	const lines = 10
	writeLines(procs, "after", lines)
	awaitLines(t, procs, "after", lines)
	skipIfStarved(t, procs, plog, full, fullAt)

	for _, p := range others {
		c := readCounters(t, p)
		t.Logf("member %d: counters grew by %v", p.index, grown(before[p], c))
		if n := dropDelta(before[p], c, "sign.drop.forged"); n < 1 {
			t.Errorf("member %d: sign.drop.forged grew by %d, want the forgery", p.index, n)
		}
		if n := dropDelta(before[p], c, "encrypt.drop.forged"); n != 0 {
			t.Errorf("member %d: the encrypt layer dropped %d datagrams as forged: the forgery must pass it and meet the signature check", p.index, n)
		}
		p.mu.Lock()
		if v := p.currentView(); v.id != full.id {
			t.Errorf("member %d moved from %v to %v", p.index, full, v)
		}
		if slices.ContainsFunc(p.delivs, func(d delivery) bool { return d.data == forgedText }) {
			t.Errorf("member %d delivered the insider's forgery %q", p.index, forgedText)
		}
		lost := !slices.ContainsFunc(p.delivs, func(d delivery) bool { return d.data == taken })
		p.mu.Unlock()
		if lost {
			t.Logf("member %d: the victim's %q, whose sequence number the forgery took, is lost there", p.index, taken)
		}
	}
	checkOnlyLines(t, procs, "victim 0", "victim 1", "after ")
}

// awaitDelivered waits until every process and the in-test member have
// delivered line from process from.
func awaitDelivered(t *testing.T, deadline time.Time, procs []*memberProc, m *inTestMember, from *memberProc, line string) {
	t.Helper()
	for _, p := range procs {
		err := p.waitFor(deadline, fmt.Sprintf("%q", line), func() (bool, error) {
			return slices.ContainsFunc(p.delivs, func(d delivery) bool { return d.data == line && d.from == from.self }), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := m.waitFor(deadline, fmt.Sprintf("%q", line), func() bool { return m.deliveredLocked(line) }); err != nil {
		t.Fatal(err)
	}
}

// deliveredLocked reports whether the in-test member delivered data.
// m.mu is held.
func (m *inTestMember) deliveredLocked(data string) bool {
	return slices.ContainsFunc(m.delivs, func(ev conclave.Event) bool { return string(ev.Data) == data })
}

// castBody returns the multicast (mnak's sequence number and what follows)
// that a datagram of type typ with payload plain carries, whole, ending in
// line: the payload itself, or one of its bundle's frames.
func castBody(typ layers.Type, plain []byte, line string) ([]byte, bool) {
	switch typ {
	case layers.ECast:
		return plain, bytes.HasSuffix(plain, []byte(line))
	case layers.EBundle:
		r := wire.NewReader(plain)
		for r.Len() > 0 {
			ft := layers.Type(r.Byte())
			n := r.UvarintMax(uint64(r.Len()))
			b := r.Bytes(int(n))
			if r.Err() != nil {
				return nil, false
			}
			if ft == layers.ECast && bytes.HasSuffix(b, []byte(line)) {
				return b, true
			}
		}
	}
	return nil, false
}

// TestInsiderReadsNoSend runs a secured group of three `conclave member`
// processes over UDP on loopback and two members run by this test: an
// honest one, which Sends messages (point-to-point) to one process and
// multicasts lines, and an insider, which holds every key of the view, as
// every member does, and keeps them. The test records the group's data
// datagrams on the wire; the insider opens, with its keys of the view,
// every datagram the honest member sent the process, and finds none of
// the Sends in them (layers/private sealed each for its recipient alone),
// nor does any datagram carry one in clear, though the process delivered
// them all. Its keys do open those datagrams, and the honest member's
// multicasts, in which it finds the lines: the attempt is real.
//
// Recording needs a packet socket (CAP_NET_RAW): without it the test is
// skipped.
func TestInsiderReadsNoSend(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three conclave processes; skipped with -short")
	}
	bin := buildConclave(t)
	hKey, iKey := newMemberKey(t), newMemberKey(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3, "--allow", hKey.id, "--allow", iKey.id)
	awaitOneView(t, procs)
	tap := startWireTap(t, groupOf(procs[0]))
	logger, plog := newProtocolLog(t)
	honest := joinInTest(t, "honest", hKey, procs, []string{iKey.id}, joinOptions{logger: logger})
	ins := joinInTest(t, "insider", iKey, procs, []string{hKey.id}, joinOptions{logger: logger})
	full := awaitMembers(t, procs, []*inTestMember{honest, ins}, 5)
	fullAt := time.Now()
	to := procs[0]
	var toEnd conclave.Endpoint
	for _, e := range honest.g.View().Members {
		if e.String() == to.self {
			toEnd = e
		}
	}

	// The honest member's Sends to the process, each with a secret of its
	// own, and its multicasts.
	const n = 10
	var secrets, casts []string
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		var b [16]byte
		rand.Read(b[:])
		secrets = append(secrets, fmt.Sprintf("send %d %s", i, hex.EncodeToString(b[:])))
		casts = append(casts, fmt.Sprintf("honest cast %d", i))
		if err := honest.g.Send(ctx, toEnd, []byte(secrets[i])); err != nil {
			t.Fatal(err)
		}
		if err := honest.g.Multicast(ctx, []byte(casts[i])); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	err := to.waitFor(deadline, "the honest member's Sends", func() (bool, error) {
		for _, s := range secrets {
			if !slices.ContainsFunc(to.sends, func(d delivery) bool { return d.data == s }) {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		err := p.waitFor(deadline, "the honest member's multicasts", func() (bool, error) {
			for _, c := range casts {
				if !slices.ContainsFunc(p.delivs, func(d delivery) bool { return d.data == c }) {
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}

	recorded, err := tap.datagrams()
	if err != nil {
		t.Fatal(err)
	}
	skipIfStarved(t, procs, plog, full, fullAt)
	from, dst := honest.g.LocalAddr(), netip.MustParseAddrPort(to.addr)
	contains := func(b []byte, texts []string) []string {
		var found []string
		for _, s := range texts {
			if bytes.Contains(b, []byte(s)) {
				found = append(found, s)
			}
		}
		return found
	}
	var toOne, toOneOpened, castsOpened int
	castsRead := map[string]bool{}
	for _, d := range recorded {
		if f := contains(d.payload, secrets); len(f) > 0 {
			t.Errorf("a datagram from %v to %v carries Sends in clear: %q", d.src, d.dst, f)
		}
		if d.src != from {
			continue
		}
		sh, ok := parseSealed(d.payload)
		if !ok {
			continue
		}
		plain, _, opened := ins.keys.open(d.payload)
		switch {
		case sh.toOne && d.dst == dst:
			toOne++
			if opened {
				toOneOpened++
				if f := contains(plain, secrets); len(f) > 0 {
					t.Errorf("the insider read the honest member's Sends to member %d: %q", to.index, f)
				}
			}
		case !sh.toOne && opened:
			castsOpened++
			for _, c := range contains(plain, casts) {
				castsRead[c] = true
			}
		}
	}
	t.Logf("recorded %d data datagrams; from the honest member: %d to member %d alone (%d opened by the insider), %d multicasts opened holding %d lines",
		len(recorded), toOne, to.index, toOneOpened, castsOpened, len(castsRead))
	if toOneOpened == 0 {
		t.Errorf("the insider opened none of the %d datagrams the honest member sent member %d alone: the attempt was not made", toOne, to.index)
	}
	if len(castsRead) == 0 {
		t.Errorf("the insider read none of the honest member's multicast lines in %d datagrams it opened: its keys do not work", castsOpened)
	}
	for _, p := range procs {
		p.mu.Lock()
		if v := p.currentView(); v.id != full.id {
			t.Errorf("member %d moved from %v to %v", p.index, full, v)
		}
		p.mu.Unlock()
	}
	checkOnlyLines(t, procs, "honest cast ")
}
