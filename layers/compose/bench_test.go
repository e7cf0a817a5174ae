package compose_test

import (
	"testing"

	"github.com/conclave-go/conclave/layers/compose"
)

// BenchmarkCast measures one multicast through the whole reliable stack, no
// I/O: the sender's stack, a copy of its datagram into the receiver's
// stack, and the receiver's delivery, with the stability and flow control
// traffic that goes with it. Messages are flushed in batches of 16, as a
// busy driver would.
func BenchmarkCast(b *testing.B) {
	for _, size := range []int{64, 1024} {
		b.Run(sizeName(size), func(b *testing.B) { benchCast(b, size) })
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return string(rune('0'+n/1024)) + "KiB"
	}
	return "64B"
}

func benchCast(b *testing.B, size int) {
	run := newCastRun(b, compose.Reliable, size)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	run(b.N)
}
