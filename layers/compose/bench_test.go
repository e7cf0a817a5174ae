package compose_test

import (
	"testing"

	"github.com/conclave-go/conclave/layers"
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

// BenchmarkBuild16 measures building one member's reliable stack for a
// view of 16 members, as every member does at every view change: the
// layers' construction and the per-view state their Init allocates.
func BenchmarkBuild16(b *testing.B) {
	cfg := layers.Config{View: layers.View{Group: 1, ID: 2, Rank: 3, N: 16}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := compose.Build(cfg, compose.Reliable, compose.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
