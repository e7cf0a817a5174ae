package compose_test

import (
	"testing"
	"time"

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
	const n = 2
	stacks := make([]*layers.Stack, n)
	for r := range n {
		s, err := compose.Build(layers.Config{View: layers.View{Group: 1, N: n, Rank: r}}, compose.Reliable, compose.Options{})
		if err != nil {
			b.Fatal(err)
		}
		stacks[r] = s
	}
	payload := make([]byte, size)
	var now time.Duration
	delivered := 0
	pump := func() {
		for moved := true; moved; {
			moved = false
			for from, s := range stacks {
				s.Flush()
				rd := s.Ready()
				for _, d := range rd.Deliveries {
					if d.From == 0 && from == 1 {
						delivered++
					}
				}
				for _, p := range rd.Packets {
					moved = true
					stacks[1-from].Receive(append([]byte(nil), p.Data...))
				}
				s.Advance()
			}
		}
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		stacks[0].Cast(payload)
		if i%16 == 15 {
			pump()
		}
		if i%1024 == 1023 {
			now += time.Millisecond
			for _, s := range stacks {
				s.Tick(now)
			}
		}
	}
	pump()
	b.StopTimer()
	if delivered != b.N {
		b.Fatalf("delivered %d of %d", delivered, b.N)
	}
}
