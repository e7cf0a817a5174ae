//go:build linux

package tests

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
)

// TestOutsiderReplaysCapturedDatagrams runs a secured group of three
// `conclave member` processes over UDP on loopback, and an outsider (this
// test's process, which holds no key of the group) that captures their
// data datagrams on the wire, as anyone on the network path can, and then
// sends each one again with its original source address, a copy with one
// byte of its sealed payload changed, and a copy from the outsider's own
// address. Every replayed and altered datagram is dropped and counted by
// the encrypt layer of the member it reaches (encrypt.drop.*), every
// datagram from the outsider's address by the membership layer
// (membership.drop.not_member); the group's deliveries are unaffected:
// every member delivers every line once, in the view it had, and nothing
// else.
//
// Capturing and sending with another source address need raw sockets
// (CAP_NET_RAW): without them the test is skipped.
func TestOutsiderReplaysCapturedDatagrams(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three conclave processes; skipped with -short")
	}
	raw, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_RAW, syscall.IPPROTO_RAW)
	if err != nil {
		t.Skipf("raw socket: %v (needs CAP_NET_RAW)", err)
	}
	defer syscall.Close(raw)

	bin := buildConclave(t)
	var procs []*memberProc
	saveLogsOnFailure(t, &procs)
	procs = startMemberProcs(t, bin, 3)
	full := awaitOneView(t, procs)
	// Listening from now on, the outsider captures only datagrams of the
	// view of all, which every member is in.
	sniffer, err := newLoopbackSniffer()
	if err != nil {
		t.Skipf("capturing on loopback: %v (needs CAP_NET_RAW)", err)
	}
	defer syscall.Close(sniffer)
	members := map[netip.AddrPort]*memberProc{}
	for _, p := range procs {
		members[netip.MustParseAddrPort(p.addr)] = p
	}

	// The group at work, while the outsider records its data datagrams
	// (not membership control messages) between members.
	const lines = 20
	for i, p := range procs {
		for k := range lines {
			fmt.Fprintf(p.stdin, "before %d-%d\n", i, k)
		}
	}
	var captured []udpDatagram
	deadline := time.Now().Add(20 * time.Second)
	for len(captured) < 60 {
		if time.Now().After(deadline) {
			t.Fatalf("captured %d data datagrams between members in 20s", len(captured))
		}
		d, ok, err := readLoopback(sniffer)
		if err != nil {
			t.Fatal(err)
		}
		if !ok || members[d.src] == nil || members[d.dst] == nil || len(d.payload) == 0 || d.payload[0] == membership.Magic {
			continue
		}
		captured = append(captured, d)
	}
	awaitLines(t, procs, "before", lines)

	// The attack: each datagram again from its sender's address, altered,
	// and from the outsider's own.
	own, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer own.Close()
	spoofed := map[*memberProc]int{}
	foreign := map[*memberProc]int{}
	for i, d := range captured {
		altered := d
		altered.payload = append([]byte(nil), d.payload...)
		altered.payload[len(altered.payload)-1] ^= 0x80
		for _, x := range []udpDatagram{d, altered} {
			if err := sendSpoofed(raw, x); err != nil {
				t.Fatal(err)
			}
			spoofed[members[d.dst]]++
		}
		if _, err := own.WriteToUDPAddrPort(d.payload, d.dst); err != nil {
			t.Fatal(err)
		}
		foreign[members[d.dst]]++
		if i%10 == 9 {
			// Paced, so that the members' socket buffers hold it all:
			// each datagram sent must be one counted.
			time.Sleep(time.Millisecond)
		}
	}

	// The group goes on as before.
	for i, p := range procs {
		for k := range lines {
			fmt.Fprintf(p.stdin, "after %d-%d\n", i, k)
		}
	}
	awaitLines(t, procs, "after", lines)

	for _, p := range procs {
		p.mu.Lock()
		p.counters = nil
		p.mu.Unlock()
		if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			t.Fatal(err)
		}
		if err := p.waitFor(time.Now().Add(10*time.Second), "counters", func() (bool, error) { return p.counters != nil, nil }); err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		var dropped uint64
		for k, v := range p.counters {
			if strings.HasPrefix(k, "encrypt.drop.") {
				dropped += v
			}
		}
		t.Logf("member %d: %d replayed or altered datagrams and %d from the outsider's address sent, counters %v",
			p.index, spoofed[p], foreign[p], p.counters)
		if dropped < uint64(spoofed[p]) {
			t.Errorf("member %d: the encrypt layer dropped %d datagrams, want the %d replayed or altered: %v", p.index, dropped, spoofed[p], p.counters)
		}
		if n := p.counters["membership.drop.not_member"]; n < uint64(foreign[p]) {
			t.Errorf("member %d: %d datagrams dropped as from no member, want %d", p.index, n, foreign[p])
		}
		if v := p.currentView(); v.id != full.id {
			t.Errorf("member %d moved from %v to %v", p.index, full, v)
		}
		seen := map[string]bool{}
		for _, d := range p.delivs {
			if seen[d.from+" "+d.data] || !(strings.HasPrefix(d.data, "before ") || strings.HasPrefix(d.data, "after ")) {
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

// awaitLines waits until every member has delivered the lines
// "<prefix> i-k" of every member i, k < n.
func awaitLines(t *testing.T, procs []*memberProc, prefix string, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for _, p := range procs {
		err := p.waitFor(deadline, prefix+" lines", func() (bool, error) {
			got := 0
			for _, d := range p.delivs {
				if strings.HasPrefix(d.data, prefix+" ") {
					got++
				}
			}
			return got >= n*len(procs), nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// udpDatagram is a UDP datagram as the wire carries it.
type udpDatagram struct {
	src, dst netip.AddrPort
	payload  []byte
}

// newLoopbackSniffer opens a packet socket that receives every IPv4
// packet arriving on the loopback interface.
func newLoopbackSniffer() (int, error) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return -1, err
	}
	proto := htons(syscall.ETH_P_IP)
	fd, err := syscall.Socket(syscall.AF_PACKET, syscall.SOCK_DGRAM, int(proto))
	if err != nil {
		return -1, err
	}
	if err := syscall.Bind(fd, &syscall.SockaddrLinklayer{Protocol: proto, Ifindex: lo.Index}); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	tv := syscall.NsecToTimeval(int64(100 * time.Millisecond))
	if err := syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &tv); err != nil {
		syscall.Close(fd)
		return -1, err
	}
	return fd, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

// readLoopback reads one packet from the sniffer and parses it as an IPv4
// UDP datagram; ok is false for anything else, for the copy of a packet
// on its way out, and when nothing came within the socket's timeout.
func readLoopback(fd int) (d udpDatagram, ok bool, err error) {
	buf := make([]byte, 65536)
	n, from, err := syscall.Recvfrom(fd, buf, 0)
	if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EINTR) {
		return d, false, nil
	}
	if err != nil {
		return d, false, err
	}
	if ll, isLL := from.(*syscall.SockaddrLinklayer); !isLL || ll.Pkttype != syscall.PACKET_HOST {
		return d, false, nil
	}
	pkt := buf[:n]
	if len(pkt) < 20 || pkt[0]>>4 != 4 || pkt[9] != syscall.IPPROTO_UDP {
		return d, false, nil
	}
	ihl := int(pkt[0]&0x0f) * 4
	if ihl < 20 || len(pkt) < ihl+8 {
		return d, false, nil
	}
	udp := pkt[ihl:]
	ulen := int(binary.BigEndian.Uint16(udp[4:]))
	if ulen < 8 || ulen > len(udp) {
		return d, false, nil
	}
	d.src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(pkt[12:16])), binary.BigEndian.Uint16(udp[0:]))
	d.dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(pkt[16:20])), binary.BigEndian.Uint16(udp[2:]))
	d.payload = append([]byte(nil), udp[8:ulen]...)
	return d, true, nil
}

// sendSpoofed sends d with its own source address through a raw socket
// (the kernel fills in the IP header's checksum; a UDP checksum of zero
// means none, as IPv4 allows).
func sendSpoofed(fd int, d udpDatagram) error {
	pkt := make([]byte, 28+len(d.payload))
	pkt[0] = 0x45
	binary.BigEndian.PutUint16(pkt[2:], uint16(len(pkt)))
	pkt[8] = 64
	pkt[9] = syscall.IPPROTO_UDP
	src, dst := d.src.Addr().As4(), d.dst.Addr().As4()
	copy(pkt[12:], src[:])
	copy(pkt[16:], dst[:])
	binary.BigEndian.PutUint16(pkt[20:], d.src.Port())
	binary.BigEndian.PutUint16(pkt[22:], d.dst.Port())
	binary.BigEndian.PutUint16(pkt[24:], uint16(8+len(d.payload)))
	copy(pkt[28:], d.payload)
	return syscall.Sendto(fd, pkt, 0, &syscall.SockaddrInet4{Addr: dst})
}
