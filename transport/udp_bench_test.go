package transport

import "testing"

// BenchmarkUDPLoopbackBatch measures a WriteBatch of 64 small datagrams and
// the ReadBatch calls that receive them, between two loopback sockets.
func BenchmarkUDPLoopbackBatch(b *testing.B) {
	src := listenUDP(b, loopback4, UDPOptions{})
	dst := listenUDP(b, loopback4, UDPOptions{})
	watchdog(b, src, dst)

	const batch = 64
	out := make([]Outgoing, batch)
	for i := range out {
		out[i] = Outgoing{To: dst.LocalAddr(), Data: make([]byte, 64)}
	}
	in := make([]Incoming, batch)

	b.ReportAllocs()
	b.SetBytes(batch * 64)
	rounds := 0
	for b.Loop() {
		if n, err := src.WriteBatch(out); n != batch || err != nil {
			b.Fatalf("WriteBatch = %d, %v", n, err)
		}
		// Reading each round before the next write keeps the socket buffer
		// from overflowing, so no datagram is lost and the loop cannot hang.
		for got := 0; got < batch; {
			n, err := dst.ReadBatch(in)
			if err != nil {
				b.Fatal(err)
			}
			got += n
		}
		rounds++
	}
	b.ReportMetric(float64(rounds*batch)/b.Elapsed().Seconds(), "datagrams/s")
	s := dst.Stats()
	b.ReportMetric(float64(s.Received)/float64(s.ReadBatches), "datagrams/recv")
}
