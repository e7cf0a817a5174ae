package compose_test

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// BenchmarkCastTotal is BenchmarkCast for the Reliable and the Total
// stacks side by side: multicasts from member 0 (the sequencer, under
// Total) to member 1, flushed in batches of 16, no I/O.
//
// Reliable/* and Total/* measure each stack alone. Ratio/* runs both in
// alternating chunks of 256 messages, so that a machine whose load changes
// during the run slows both alike, and reports each one's time per message
// and "total/reliable", the throughput of Total relative to Reliable (1
// means as fast).
func BenchmarkCastTotal(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, stack := range []struct {
			name  string
			names []string
		}{{"Reliable", compose.Reliable}, {"Total", compose.Total}} {
			b.Run(stack.name+"/"+sizeName(size), func(b *testing.B) {
				run := newCastRun(b, stack.names, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				run(b.N)
			})
		}
		b.Run("Ratio/"+sizeName(size), func(b *testing.B) {
			reliable := newCastRun(b, compose.Reliable, size)
			tot := newCastRun(b, compose.Total, size)
			var reliableTime, totalTime time.Duration
			b.SetBytes(int64(2 * size))
			b.ResetTimer()
			for done := 0; done < b.N; {
				chunk := min(256, b.N-done)
				start := time.Now()
				reliable(chunk)
				mid := time.Now()
				tot(chunk)
				reliableTime += mid.Sub(start)
				totalTime += time.Since(mid)
				done += chunk
			}
			b.ReportMetric(float64(reliableTime.Nanoseconds())/float64(b.N), "reliable-ns/msg")
			b.ReportMetric(float64(totalTime.Nanoseconds())/float64(b.N), "total-ns/msg")
			b.ReportMetric(float64(reliableTime)/float64(totalTime), "total/reliable")
		})
	}
}

// newCastRun builds two stacks of the named layers and returns a function
// that multicasts n more messages from member 0 and checks that member 1
// has delivered every one so far.
func newCastRun(b *testing.B, names []string, size int) func(n int) {
	const members = 2
	stacks := make([]*layers.Stack, members)
	for r := range members {
		s, err := compose.Build(layers.Config{View: layers.View{Group: 1, N: members, Rank: r}}, names, compose.Options{})
		if err != nil {
			b.Fatal(err)
		}
		stacks[r] = s
	}
	payload := make([]byte, size)
	var now time.Duration
	cast, delivered := 0, 0
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
	return func(n int) {
		for range n {
			stacks[0].Cast(payload)
			cast++
			if cast%16 == 0 {
				pump()
			}
			if cast%1024 == 0 {
				now += time.Millisecond
				for _, s := range stacks {
					s.Tick(now)
				}
			}
		}
		pump()
		if delivered != cast {
			b.Fatalf("delivered %d of %d", delivered, cast)
		}
	}
}
