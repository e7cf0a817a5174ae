//go:build linux

package tests

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/layers"
)

// TestJoinerAndExMemberReadAndInjectNothing runs a secured group of three
// `conclave member` processes over UDP on loopback, and an attacker: a
// member run by this test (conclave.Join) that keeps every key its encrypt
// layer is given, every sender's, for good. The test records the group's
// data datagrams on the wire from the start. The processes multicast
// before the attacker joins, while it is a member, and after it has left;
// then the attacker, an ex-member now, tries:
//
//   - as the joiner it was, to open what was sent before its first view
//     with the keys of every view it was in: nothing opens (backward
//     secrecy);
//   - as the ex-member, to open what was sent after it left: nothing
//     opens (forward secrecy). Its keys do open the datagrams of its own
//     views, which hold the lines multicast then: the attempts are real;
//   - to inject datagrams sealed with its old keys: in the current view's
//     name, from a member's address (dropped as forged by the encrypt
//     layer), in its old view's, from a member's address (dropped by the
//     bottom layer as of another view) and from its own (dropped by
//     membership as from no member). Each is counted by that reason at
//     the member it reaches.
//
// The group is unaffected: no member delivers anything but the lines the
// processes multicast, each once; after the attacks the view is the one
// the attacker left, and every line multicast then is delivered.
//
// Recording and spoofing source addresses need raw sockets (CAP_NET_RAW):
// without them the test is skipped.
func TestJoinerAndExMemberReadAndInjectNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three conclave processes; skipped with -short")
	}
	raw, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		t.Skipf("raw socket: %v (needs CAP_NET_RAW)", err)
	}
	defer syscall.Close(raw)

	bin := buildConclave(t)
	key := newMemberKey(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3, "--allow", key.id)
	awaitOneView(t, procs)
	tap := startWireTap(t, groupOf(procs[0]))

	// Before the attacker joins.
	const lines = 20
	writeLines(procs, "before", lines)
	awaitLines(t, procs, "before", lines)

	// The attacker joins, the group multicasts, the attacker leaves.
	a := joinInTest(t, "attacker", key, procs, nil, joinOptions{})
	awaitMembers(t, procs, []*inTestMember{a}, 4)
	writeLines(procs, "during", lines)
	awaitLines(t, procs, "during", lines)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := a.g.Leave(ctx); err != nil {
		t.Fatalf("the attacker's leave: %v", err)
	}
	after := awaitMembers(t, procs, nil, 3)
	if after.has(a.g.Self().String()) {
		t.Fatalf("the group's view after the leave still holds the attacker: %v", after)
	}
	sofar, err := tap.datagrams()
	if err != nil {
		t.Fatal(err)
	}
	leftAt := len(sofar) // what was recorded from here on was sent after the leave
	writeLines(procs, "after", lines)
	awaitLines(t, procs, "after", lines)

	// The attacker reads what it recorded.
	recorded, err := tap.datagrams()
	if err != nil {
		t.Fatal(err)
	}
	own := a.wires() // the views the attacker was in, by wire id
	var (
		ownSeen, ownOpened, ownLines int
		otherSeen                    = map[uint64]int{}
	)
	plainLines := func(b []byte) []string {
		var found []string
		for _, pre := range []string{"before ", "during ", "after "} {
			for i := range len(procs) {
				for k := range lines {
					if l := fmt.Sprintf("%s%d-%d", pre, i, k); bytes.Contains(b, []byte(l)) {
						found = append(found, l)
					}
				}
			}
		}
		return found
	}
	for _, d := range recorded {
		if l := plainLines(d.payload); len(l) > 0 {
			t.Errorf("a datagram from %v to %v carries multicast lines in clear: %v", d.src, d.dst, l)
		}
		sh, ok := parseSealed(d.payload)
		if !ok {
			continue
		}
		plain, epoch, opened := a.keys.open(d.payload)
		if _, mine := own[sh.hdr.View]; mine {
			ownSeen++
			if opened {
				ownOpened++
				if len(plainLines(plain)) > 0 {
					ownLines++
				}
			}
			continue
		}
		otherSeen[sh.hdr.View]++
		if opened {
			t.Errorf("the attacker opened a datagram of view %x from %v to %v with its keys of epoch %d; it held lines %v",
				sh.hdr.View, d.src, d.dst, epoch, plainLines(plain))
		}
	}
	t.Logf("recorded %d data datagrams: %d of the attacker's views %v (%d opened, %d with lines), and of other views %v",
		len(recorded), ownSeen, own, ownOpened, ownLines, otherSeen)
	// The attacks were real: its keys open its own views' datagrams, and
	// the group's views before and after (at least one each, with the
	// lines multicast in them) were recorded.
	if ownOpened == 0 || ownLines == 0 {
		t.Errorf("the attacker's keys opened %d of the %d datagrams of its own views (%d with lines): want some with lines", ownOpened, ownSeen, ownLines)
	}
	if len(otherSeen) < 2 {
		t.Errorf("recorded datagrams of %d views the attacker was not in, want the views before its join and after its leave", len(otherSeen))
	}

	// The attacker injects datagrams sealed with its old keys.
	addrs := map[netip.AddrPort]*memberProc{}
	for _, p := range procs {
		addrs[netip.MustParseAddrPort(p.addr)] = p
	}
	// The view after the leave, its members' ranks, and a datagram
	// counter none of them has reached: the forgeries must meet the
	// authentication check, not the replay window.
	afterWire, afterRanks, maxCounter := uint64(0), map[netip.AddrPort]uint64{}, uint32(0)
	for _, d := range recorded[leftAt:] {
		sh, ok := parseSealed(d.payload)
		if _, mine := own[sh.hdr.View]; !ok || mine || addrs[d.src] == nil || addrs[d.dst] == nil {
			continue
		}
		if afterWire != 0 && sh.hdr.View != afterWire {
			t.Fatalf("datagrams of views %x and %x recorded after the leave", afterWire, sh.hdr.View)
		}
		afterWire = sh.hdr.View
		afterRanks[d.src] = sh.hdr.Sender
		maxCounter = max(maxCounter, sh.counter)
	}
	if len(afterRanks) != len(procs) {
		t.Fatalf("recorded datagrams of the view after the leave from %d members, want %d", len(afterRanks), len(procs))
	}
	a.keys.mu.Lock()
	kept := slices.Clone(a.keys.views)
	a.keys.mu.Unlock()
	last := kept[len(kept)-1]
	lastWire := uint64(0)
	for w, e := range own {
		if e == last.epoch {
			lastWire = w
		}
	}
	group := conclave.GroupID(groupOf(procs[0]))
	before := map[*memberProc]map[string]uint64{}
	for _, p := range procs {
		before[p] = readCounters(t, p)
	}
	type expect struct{ forged, otherView, notMember int }
	want := map[*memberProc]*expect{}
	for _, p := range procs {
		want[p] = &expect{}
	}
	counter := maxCounter + 1000
	exAddr := a.g.LocalAddr()
	exConn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(exAddr))
	if err != nil {
		t.Fatalf("the ex-member's address %v again: %v", exAddr, err)
	}
	defer exConn.Close()
	payload := []byte("an ex-member's multicast")
	for from, sender := range afterRanks {
		for to, victim := range addrs {
			if to == from {
				continue
			}
			for _, v := range kept {
				for keyRank := range v.n {
					// In the current view, in a member's name.
					data, err := a.keys.forge(v, keyRank, hostile.Header{Group: group, View: afterWire, Sender: sender, Type: layers.ECast}, counter, payload)
					if err != nil {
						t.Fatal(err)
					}
					counter++
					if err := sendSpoofed(raw, udpDatagram{src: from, dst: to, payload: data}); err != nil {
						t.Fatal(err)
					}
					want[victim].forged++
				}
			}
			// In its last view, as itself: from a member's address, and
			// from its own.
			data, err := a.keys.forge(last, last.rank, hostile.Header{Group: group, View: lastWire, Sender: uint64(last.rank), Type: layers.ECast}, counter, payload)
			if err != nil {
				t.Fatal(err)
			}
			counter++
			if err := sendSpoofed(raw, udpDatagram{src: from, dst: to, payload: data}); err != nil {
				t.Fatal(err)
			}
			want[victim].otherView++
			if _, err := exConn.WriteToUDPAddrPort(data, to); err != nil {
				t.Fatal(err)
			}
			want[victim].notMember++
		}
	}

	// The group goes on; then every injection must have been counted.
	writeLines(procs, "again", lines)
	awaitLines(t, procs, "again", lines)
	for _, p := range procs {
		c := readCounters(t, p)
		w := want[p]
		t.Logf("member %d: %d forged in the current view, %d in the old view from a member's address, %d from the ex-member's; counters grew by %v",
			p.index, w.forged, w.otherView, w.notMember, grown(before[p], c))
		if n := dropDelta(before[p], c, "encrypt.drop.forged"); n < uint64(w.forged) {
			t.Errorf("member %d: encrypt.drop.forged grew by %d, want the %d datagrams sealed with old keys in the current view", p.index, n, w.forged)
		}
		if n := dropDelta(before[p], c, "bottom.drop.other_view"); n < uint64(w.otherView) {
			t.Errorf("member %d: bottom.drop.other_view grew by %d, want the %d datagrams of the attacker's old view", p.index, n, w.otherView)
		}
		if n := dropDelta(before[p], c, "membership.drop.not_member"); n < uint64(w.notMember) {
			t.Errorf("member %d: membership.drop.not_member grew by %d, want the %d datagrams from the ex-member's address", p.index, n, w.notMember)
		}
		p.mu.Lock()
		if v := p.currentView(); v.id != after.id {
			t.Errorf("member %d moved from %v to %v", p.index, after, v)
		}
		p.mu.Unlock()
	}
	checkOnlyLines(t, procs, "before ", "during ", "after ", "again ")
}

// grown returns the counters that grew from before to after, by how much.
func grown(before, after map[string]uint64) map[string]uint64 {
	g := map[string]uint64{}
	for k, v := range after {
		if v > before[k] && strings.Contains(k, "drop.") {
			g[k] = v - before[k]
		}
	}
	return g
}
