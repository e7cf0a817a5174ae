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
// `conclave member` processes over UDP on loopback, and two attackers:
// members run by this test (conclave.Join) that keep every key their
// encrypt layer is given, every sender's, for good. The test records the
// group's data datagrams on the wire from the start. The processes
// multicast before the attackers join, while they are members, and after
// they have gone: one leaves, the other stops answering and the group
// evicts it as failed. Then each attacker, an ex-member now, tries:
//
//   - as the joiner it was, to open what was sent before its first view
//     with the keys of every view it was in: nothing opens (backward
//     secrecy);
//   - as the ex-member, to open what was sent in views it was not in, the
//     ones after it went among them: nothing opens (forward secrecy). Its
//     keys do open the datagrams of its own views, which hold the lines
//     multicast then: the attempts are real;
//   - to inject datagrams sealed with its old keys: in the current view's
//     name, from a member's address (dropped as forged by the encrypt
//     layer), in its old view's, from a member's address (dropped by the
//     bottom layer as of another view) and from its own (dropped by
//     membership as from no member). Each is counted by that reason at
//     the member it reaches.
//
// The group is unaffected: no member delivers anything but the lines the
// processes multicast, each once; after the attacks the view is the one
// the attackers left, and every line multicast then is delivered.
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
	leaverKey, failedKey := newMemberKey(t), newMemberKey(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3, "--allow", leaverKey.id, "--allow", failedKey.id)
	awaitOneView(t, procs)
	tap := startWireTap(t, groupOf(procs[0]))

	// Before the attackers join.
	const lines = 20
	writeLines(procs, "before", lines)
	awaitLines(t, procs, "before", lines)

	// The attackers join, the group multicasts, the attackers go: one
	// stops (the others suspect it and evict it), the other leaves.
	logger, plog := newProtocolLog(t)
	leaver := joinInTest(t, "leaver", leaverKey, procs, []string{failedKey.id}, joinOptions{logger: logger})
	failed := joinInTest(t, "failed", failedKey, procs, []string{leaverKey.id}, joinOptions{logger: logger})
	attackers := []*inTestMember{leaver, failed}
	awaitMembers(t, procs, attackers, 5)
	writeLines(procs, "during", lines)
	awaitLines(t, procs, "during", lines)
	failed.g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := leaver.g.Leave(ctx); err != nil {
		t.Fatalf("the leaver's leave: %v", err)
	}
	after := awaitMembers(t, procs, nil, 3)
	afterAt := time.Now()
	sofar, err := tap.datagrams()
	if err != nil {
		t.Fatal(err)
	}
	goneAt := len(sofar) // what was recorded from here on was sent after they went
	writeLines(procs, "after", lines)
	awaitLines(t, procs, "after", lines)
	recorded, err := tap.datagrams()
	if err != nil {
		t.Fatal(err)
	}
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
	}

	// Each attacker reads what was recorded.
	for _, a := range attackers {
		own := a.wires() // the views the attacker was in, by wire id
		var (
			ownSeen, ownOpened, ownLines int
			otherSeen                    = map[uint64]int{}
		)
		for _, d := range recorded {
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
				t.Errorf("the %s opened a datagram of view %x from %v to %v with its keys of epoch %d; it held lines %v",
					a.name, sh.hdr.View, d.src, d.dst, epoch, plainLines(plain))
			}
		}
		t.Logf("the %s: of %d data datagrams recorded, %d of its views %v (%d opened, %d with lines), and of other views %v",
			a.name, len(recorded), ownSeen, own, ownOpened, ownLines, otherSeen)
		// The attacks were real: its keys open its own views' datagrams,
		// and the group's views before and after (at least one each) were
		// recorded.
		if ownOpened == 0 || ownLines == 0 {
			t.Errorf("the %s's keys opened %d of the %d datagrams of its own views (%d with lines): want some with lines", a.name, ownOpened, ownSeen, ownLines)
		}
		if len(otherSeen) < 2 {
			t.Errorf("recorded datagrams of %d views the %s was not in, want the views before its join and after it went", len(otherSeen), a.name)
		}
	}

	// The view after they went (the one of the last datagram recorded
	// between members), its members' ranks, and a datagram counter none of
	// them has reached: the forgeries must meet the authentication check,
	// not the replay window.
	addrs := map[netip.AddrPort]*memberProc{}
	for _, p := range procs {
		addrs[netip.MustParseAddrPort(p.addr)] = p
	}
	var afterWire uint64
	for _, d := range recorded[goneAt:] {
		if sh, ok := parseSealed(d.payload); ok && addrs[d.src] != nil && addrs[d.dst] != nil {
			afterWire = sh.hdr.View
		}
	}
	afterRanks, maxCounter := map[netip.AddrPort]uint64{}, uint32(0)
	for _, d := range recorded[goneAt:] {
		if sh, ok := parseSealed(d.payload); ok && sh.hdr.View == afterWire && addrs[d.src] != nil {
			afterRanks[d.src] = sh.hdr.Sender
			maxCounter = max(maxCounter, sh.counter)
		}
	}
	if len(afterRanks) != len(procs) {
		t.Fatalf("recorded datagrams of the view after the attackers went from %d members, want %d", len(afterRanks), len(procs))
	}
	for _, a := range attackers {
		if _, mine := a.wires()[afterWire]; mine {
			t.Fatalf("the %s was in the view after it went, %x", a.name, afterWire)
		}
	}

	// Each attacker injects datagrams sealed with its old keys.
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
	payload := []byte("an ex-member's multicast")
	for _, a := range attackers {
		a.keys.mu.Lock()
		kept := slices.Clone(a.keys.views)
		a.keys.mu.Unlock()
		last := kept[len(kept)-1]
		var lastWire uint64
		for w, e := range a.wires() {
			if e == last.epoch {
				lastWire = w
			}
		}
		exAddr := a.g.LocalAddr()
		exConn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(exAddr))
		if err != nil {
			t.Fatalf("the %s's address %v again: %v", a.name, exAddr, err)
		}
		defer exConn.Close()
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
				// In its last view, as itself: from a member's address,
				// and from its own.
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
	}

	// The group goes on; then every injection must have been counted.
	writeLines(procs, "again", lines)
	awaitLines(t, procs, "again", lines)
	skipIfStarved(t, procs, plog, after, afterAt)
	for _, p := range procs {
		c := readCounters(t, p)
		w := want[p]
		t.Logf("member %d: %d forged in the current view, %d in an old view from a member's address, %d from an ex-member's; counters grew by %v",
			p.index, w.forged, w.otherView, w.notMember, grown(before[p], c))
		if n := dropDelta(before[p], c, "encrypt.drop.forged"); n < uint64(w.forged) {
			t.Errorf("member %d: encrypt.drop.forged grew by %d, want the %d datagrams sealed with old keys in the current view", p.index, n, w.forged)
		}
		if n := dropDelta(before[p], c, "bottom.drop.other_view"); n < uint64(w.otherView) {
			t.Errorf("member %d: bottom.drop.other_view grew by %d, want the %d datagrams of the attackers' old views", p.index, n, w.otherView)
		}
		if n := dropDelta(before[p], c, "membership.drop.not_member"); n < uint64(w.notMember) {
			t.Errorf("member %d: membership.drop.not_member grew by %d, want the %d datagrams from the ex-members' addresses", p.index, n, w.notMember)
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
