package transport

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"testing"
	"time"
)

var loopback4 = netip.MustParseAddrPort("127.0.0.1:0")

func listenUDP(tb testing.TB, addr netip.AddrPort, opts UDPOptions) *UDPConn {
	tb.Helper()
	c, err := ListenUDP(addr, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	return c
}

// watchdog closes the conns if the test has not finished in time, so a lost
// datagram fails the test instead of hanging it.
func watchdog(tb testing.TB, conns ...Conn) {
	t := time.AfterFunc(30*time.Second, func() {
		for _, c := range conns {
			c.Close()
		}
	})
	tb.Cleanup(func() { t.Stop() })
}

// testPayload is datagram i of a test stream: sizes vary from 1 to 9000
// bytes, and the bytes depend on both i and their position.
func testPayload(i int) []byte {
	p := make([]byte, 1+(i*7919)%9000)
	for j := range p {
		p[j] = byte(i*131 + j*7 + j>>8)
	}
	if len(p) >= 2 {
		binary.BigEndian.PutUint16(p, uint16(i))
	}
	return p
}

func TestUDPBatchRoundTrip(t *testing.T) {
	a := listenUDP(t, loopback4, UDPOptions{})
	b := listenUDP(t, loopback4, UDPOptions{})
	watchdog(t, a, b)

	const total = 1000
	// Rounds stay well inside even a default-sized socket buffer, so the
	// kernel has no reason to drop anything.
	const round = 25

	out := make([]Outgoing, total)
	want := make(map[string]int)
	for i := range out {
		out[i] = Outgoing{To: b.LocalAddr(), Data: testPayload(i)}
		want[string(out[i].Data)]++
	}

	type held struct {
		in   Incoming
		copy string
	}
	var kept []held
	buf := make([]Incoming, 64)
	for start := 0; start < total; start += round {
		n, err := a.WriteBatch(out[start : start+round])
		if n != round || err != nil {
			t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, round)
		}
		for got := 0; got < round; {
			n, err := b.ReadBatch(buf)
			if err != nil {
				t.Fatalf("ReadBatch after %d datagrams: %v", start+got, err)
			}
			if n < 1 || n > len(buf) {
				t.Fatalf("ReadBatch = %d", n)
			}
			for _, in := range buf[:n] {
				if in.From != a.LocalAddr() {
					t.Fatalf("From = %v, want %v", in.From, a.LocalAddr())
				}
				if cap(in.Data) != len(in.Data) {
					t.Fatalf("Data has spare capacity %d; appends would reach a neighbour", cap(in.Data)-len(in.Data))
				}
				if want[string(in.Data)] == 0 {
					t.Fatalf("unexpected datagram of %d bytes", len(in.Data))
				}
				want[string(in.Data)]--
				kept = append(kept, held{in, string(in.Data)})
			}
			got += n
		}
	}
	for p, n := range want {
		if n != 0 {
			t.Errorf("datagram of %d bytes missing %d times", len(p), n)
		}
	}
	// Later reads must not have reused the buffers handed out earlier.
	for i, h := range kept {
		if string(h.in.Data) != h.copy {
			t.Fatalf("datagram %d overwritten after it was returned", i)
		}
	}

	as, bs := a.Stats(), b.Stats()
	if as.Sent != total || as.SendErrors != 0 {
		t.Errorf("sender stats %+v, want Sent %d and no errors", as, total)
	}
	if as.WriteBatches < total/maxWriteBatch {
		t.Errorf("WriteBatches = %d, want at least %d", as.WriteBatches, total/maxWriteBatch)
	}
	if bs.Received != total || bs.ReadBatches == 0 || bs.ReadBatches > total {
		t.Errorf("receiver stats %+v, want Received %d", bs, total)
	}
	t.Logf("mean batch: %.1f datagrams per send call, %.1f per receive call",
		float64(as.Sent)/float64(as.WriteBatches), float64(bs.Received)/float64(bs.ReadBatches))
}

func TestUDPCloseUnblocksRead(t *testing.T) {
	c := listenUDP(t, loopback4, UDPOptions{})
	errc := make(chan error, 1)
	go func() {
		_, err := c.ReadBatch(make([]Incoming, 8))
		errc <- err
	}()
	waitBlocked(t, "(*UDPConn).ReadBatch")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("ReadBatch after Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ReadBatch still blocked after Close")
	}
	if _, err := c.ReadBatch(make([]Incoming, 1)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("second ReadBatch: %v, want net.ErrClosed", err)
	}
	if _, err := c.WriteBatch([]Outgoing{{To: c.LocalAddr(), Data: []byte("x")}}); !errors.Is(err, net.ErrClosed) {
		t.Errorf("WriteBatch after Close: %v, want net.ErrClosed", err)
	}
}

func TestUDPIPv6(t *testing.T) {
	a, err := ListenUDP(netip.MustParseAddrPort("[::1]:0"), UDPOptions{})
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	t.Cleanup(func() { a.Close() })
	b := listenUDP(t, netip.MustParseAddrPort("[::1]:0"), UDPOptions{})
	watchdog(t, a, b)

	for _, dir := range []struct{ from, to *UDPConn }{{a, b}, {b, a}} {
		out := make([]Outgoing, 10)
		for i := range out {
			out[i] = Outgoing{To: dir.to.LocalAddr(), Data: testPayload(i)}
		}
		if n, err := dir.from.WriteBatch(out); n != len(out) || err != nil {
			t.Fatalf("WriteBatch = %d, %v", n, err)
		}
		got := readAll(t, dir.to, len(out))
		for i, in := range got {
			if in.From != dir.from.LocalAddr() {
				t.Errorf("From = %v, want %v", in.From, dir.from.LocalAddr())
			}
			if string(in.Data) != string(out[i].Data) {
				t.Errorf("datagram %d differs", i)
			}
		}
	}
}

// readAll reads exactly n datagrams.
func readAll(tb testing.TB, c Conn, n int) []Incoming {
	tb.Helper()
	var got []Incoming
	buf := make([]Incoming, 16)
	for len(got) < n {
		k, err := c.ReadBatch(buf)
		if err != nil {
			tb.Fatalf("ReadBatch after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, buf[:k]...)
	}
	if len(got) != n {
		tb.Fatalf("read %d datagrams, want %d", len(got), n)
	}
	return got
}

func TestUDPDeadPeerDoesNotStopBatch(t *testing.T) {
	a := listenUDP(t, loopback4, UDPOptions{})
	b := listenUDP(t, loopback4, UDPOptions{})
	watchdog(t, a, b)

	// A closed socket leaves a port where nothing listens; the kernel
	// answers datagrams to it with ICMP port unreachable.
	dead := listenUDP(t, loopback4, UDPOptions{})
	deadAddr := dead.LocalAddr()
	dead.Close()

	for i := range 5 {
		out := []Outgoing{
			{To: deadAddr, Data: []byte("nobody")},
			{To: b.LocalAddr(), Data: []byte{byte(i)}},
		}
		if n, err := a.WriteBatch(out); n != len(out) || err != nil {
			t.Fatalf("WriteBatch = %d, %v; want %d, nil", n, err, len(out))
		}
		got := readAll(t, b, 1)
		if got[0].Data[0] != byte(i) {
			t.Fatalf("got datagram %d, want %d", got[0].Data[0], i)
		}
	}
	// Errors queued by the ICMP replies must not break a's receive side.
	if _, err := b.WriteBatch([]Outgoing{{To: a.LocalAddr(), Data: []byte("back")}}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, a, 1); string(got[0].Data) != "back" {
		t.Fatalf("got %q", got[0].Data)
	}
}

func TestUDPTruncatedDropped(t *testing.T) {
	if runtime.GOOS != "linux" && runtime.GOOS != "windows" {
		t.Skip("truncation is only reported on linux and windows")
	}
	a := listenUDP(t, loopback4, UDPOptions{})
	b := listenUDP(t, loopback4, UDPOptions{MaxDatagram: 100})
	watchdog(t, a, b)

	out := []Outgoing{
		{To: b.LocalAddr(), Data: make([]byte, 101)},
		{To: b.LocalAddr(), Data: []byte("fits")},
	}
	if _, err := a.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b, 1)
	if string(got[0].Data) != "fits" {
		t.Fatalf("got %d bytes, want the short datagram", len(got[0].Data))
	}
	if s := b.Stats(); s.Truncated != 1 || s.Received != 1 {
		t.Fatalf("stats %+v, want 1 truncated and 1 received", s)
	}
}

// TestUDPOversizeDropped checks the limit at the stack's datagram size: a
// datagram of exactly MaxDatagram bytes is delivered, one byte more is
// dropped and counted, on every OS (the read buffer has one byte to spare).
func TestUDPOversizeDropped(t *testing.T) {
	const max = 1400
	a := listenUDP(t, loopback4, UDPOptions{})
	b := listenUDP(t, loopback4, UDPOptions{MaxDatagram: max})
	watchdog(t, a, b)
	out := []Outgoing{
		{To: b.LocalAddr(), Data: make([]byte, max+1)},
		{To: b.LocalAddr(), Data: make([]byte, 65000)},
		{To: b.LocalAddr(), Data: make([]byte, max)},
	}
	if _, err := a.WriteBatch(out); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b, 1)
	if len(got[0].Data) != max {
		t.Fatalf("got %d bytes, want the %d-byte datagram", len(got[0].Data), max)
	}
	if s := b.Stats(); s.Truncated != 2 || s.Received != 1 {
		t.Fatalf("stats %+v, want 2 dropped and 1 received", s)
	}
}

func TestUDPOptionsRejected(t *testing.T) {
	for _, o := range []UDPOptions{
		{MaxDatagram: maxMaxDatagram + 1},
		{MaxDatagram: -1},
		{ReadBuffer: -1},
		{WriteBuffer: -1},
	} {
		c, err := ListenUDP(loopback4, o)
		if err == nil {
			c.Close()
			t.Errorf("ListenUDP(%+v) succeeded", o)
			continue
		}
		if !strings.HasPrefix(err.Error(), "transport: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
	if _, err := ListenUDP(netip.AddrPort{}, UDPOptions{}); err == nil {
		t.Error("ListenUDP accepted the zero address")
	}
}

func TestUDPSteadyStateAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation counts")
	}
	a := listenUDP(t, loopback4, UDPOptions{})
	b := listenUDP(t, loopback4, UDPOptions{})
	sink := listenUDP(t, loopback4, UDPOptions{}) // never read; overflow is fine
	watchdog(t, a, b, sink)

	const batch = 16
	toSink := make([]Outgoing, batch)
	toB := make([]Outgoing, batch)
	for i := range toB {
		toSink[i] = Outgoing{To: sink.LocalAddr(), Data: make([]byte, 64)}
		toB[i] = Outgoing{To: b.LocalAddr(), Data: make([]byte, 64)}
	}
	writeAllocs := testing.AllocsPerRun(100, func() {
		if _, err := a.WriteBatch(toSink); err != nil {
			t.Fatal(err)
		}
	})
	if writeAllocs != 0 {
		t.Errorf("WriteBatch allocates %.1f times in steady state, want 0", writeAllocs)
	}

	in := make([]Incoming, batch)
	var calls int
	roundAllocs := testing.AllocsPerRun(100, func() {
		if _, err := a.WriteBatch(toB); err != nil {
			t.Fatal(err)
		}
		for got := 0; got < batch; {
			n, err := b.ReadBatch(in)
			if err != nil {
				t.Fatal(err)
			}
			got += n
			calls++
		}
	})
	readAllocs := roundAllocs - writeAllocs
	perCall := readAllocs * 101 / float64(calls)
	t.Logf("allocations: %.1f per WriteBatch of %d, %.1f per ReadBatch (%.2f datagrams per call)",
		writeAllocs, batch, perCall, float64(batch*101)/float64(calls))
	// One slab per call; on Linux x/net also allocates a *net.UDPAddr and
	// its net.IP for every source address it parses.
	addrAllocs := 0
	if runtime.GOOS == "linux" {
		addrAllocs = 2
	}
	if limit := float64(1 + addrAllocs*batch); perCall > limit {
		t.Errorf("ReadBatch allocates %.1f times per call, want at most %.0f", perCall, limit)
	}
}

// waitBlocked waits until some goroutine is parked inside fn, so that a test
// exercises unblocking a call rather than racing ahead of it.
func waitBlocked(tb testing.TB, fn string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	buf := make([]byte, 1<<20)
	for time.Now().Before(deadline) {
		stacks := string(buf[:runtime.Stack(buf, true)])
		for g := range strings.SplitSeq(stacks, "\n\n") {
			header, _, _ := strings.Cut(g, "\n")
			running := strings.Contains(header, "[running") ||
				strings.Contains(header, "[runnable") ||
				strings.Contains(header, "[syscall")
			if !running && strings.Contains(g, fn) {
				return
			}
		}
		runtime.Gosched()
	}
	tb.Fatalf("no goroutine blocked in %s", fn)
}
