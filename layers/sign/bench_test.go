package sign_test

import (
	"github.com/conclave-go/conclave/internal/benchutil"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/layers/sign"
)

// BenchmarkCast measures the CPU one multicast costs through the whole
// reliable stack, with and without the layer: the sender's stack, a copy
// of its datagrams into the receiver's stack, and the receiver's delivery,
// with the stability and flow control traffic that goes with it. The
// sender casts 100 messages per millisecond of the virtual clock, and the
// driver flushes after every pass messages (pass20: a driver that finds
// 20 multicasts waiting each time it wakes; pass100: one that wakes once
// per tick). Each flush signs what the pass brought, so a batch is a
// pass, and each message bears a pass's share of a signature and of a
// verification.
func BenchmarkCast(b *testing.B) {
	for _, size := range []int{64, 1024} {
		for _, c := range []struct {
			name  string
			names []string
			pass  int
		}{{"plain", plain, 20}, {"signed/pass20", signed, 20}, {"signed/pass100", signed, 100}} {
			b.Run(sizeName(size)+"/"+c.name, func(b *testing.B) {
				run := newRun(b, c.names)
				payload := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				defer benchutil.LockThread()()
				b.ResetTimer()
				cpu := benchutil.ThreadCPU()
				for i := range b.N {
					run.stacks[0].Cast(payload)
					if i%c.pass == c.pass-1 {
						run.pump()
					}
					if i%100 == 99 {
						run.tick(time.Millisecond)
					}
				}
				run.tick(time.Millisecond)
				run.pump()
				b.ReportMetric(float64(benchutil.ThreadCPU()-cpu)/float64(b.N), "cpu-ns/msg")
				b.StopTimer()
				if run.delivered != b.N {
					b.Fatalf("delivered %d of %d", run.delivered, b.N)
				}
				if n := run.stacks[0].Counter("sign", "batches_signed"); n > 0 {
					b.ReportMetric(float64(b.N)/float64(n), "msgs/batch")
				}
			})
		}
	}
}

// BenchmarkIdleLatency measures one multicast of 64 bytes from an idle
// sender to its delivery at the receiver, the CPU time on the path, with
// and without the layer: the difference is the delay the layer adds to an
// unloaded group (a signature and a verification; the flush that ends
// the driver's pass signs the lone multicast at once).
func BenchmarkIdleLatency(b *testing.B) {
	for _, c := range []struct {
		name  string
		names []string
	}{{"plain", plain}, {"signed", signed}} {
		b.Run(c.name, func(b *testing.B) {
			run := newRun(b, c.names)
			payload := make([]byte, 64)
			b.ReportAllocs()
			defer benchutil.LockThread()()
			b.ResetTimer()
			var cpu time.Duration
			for range b.N {
				start := benchutil.ThreadCPU()
				run.stacks[0].Cast(payload)
				run.pump()
				cpu += benchutil.ThreadCPU() - start
				b.StopTimer()
				run.tick(10 * time.Millisecond) // idle again, acknowledged
				run.pump()
				b.StartTimer()
			}
			b.StopTimer()
			b.ReportMetric(float64(cpu)/float64(b.N), "cpu-ns/msg")
			if run.delivered != b.N {
				b.Fatalf("delivered %d of %d", run.delivered, b.N)
			}
		})
	}
}

type benchRun struct {
	stacks    []*layers.Stack
	now       time.Duration
	delivered int
}

func newRun(b *testing.B, names []string) *benchRun {
	ks := groupKeys(b, 2)
	r := &benchRun{}
	for rank := range 2 {
		r.stacks = append(r.stacks, build(b, rank, 2, names, compose.Options{}, ks[rank]))
	}
	return r
}

// pump moves datagrams between the two stacks until none is left.
func (r *benchRun) pump() {
	for moved := true; moved; {
		moved = false
		for from, s := range r.stacks {
			s.Flush()
			rd := s.Ready()
			for _, d := range rd.Deliveries {
				if d.From == 0 && from == 1 {
					r.delivered++
				}
			}
			for _, p := range rd.Packets {
				moved = true
				r.stacks[1-from].Receive(append([]byte(nil), p.Data...))
			}
			s.Advance()
		}
	}
}

func (r *benchRun) tick(d time.Duration) {
	r.now += d
	for _, s := range r.stacks {
		s.Tick(r.now)
	}
}

func sizeName(n int) string {
	if n >= 1024 {
		return "1KiB"
	}
	return "64B"
}

// BenchmarkSignature is the reference: one labelled signature and one
// verification of a batch's content with the suite the tests use
// (Ed25519), what a batch costs its sender and each receiver.
func BenchmarkSignature(b *testing.B) {
	ks := groupKeys(b, 2)
	content := make([]byte, 32)
	sig, err := ks[0].SenderSign(sign.Label, content)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("sign", func(b *testing.B) {
		defer benchutil.LockThread()()
		cpu := benchutil.ThreadCPU()
		for range b.N {
			ks[0].SenderSign(sign.Label, content)
		}
		b.ReportMetric(float64(benchutil.ThreadCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
	b.Run("verify", func(b *testing.B) {
		defer benchutil.LockThread()()
		cpu := benchutil.ThreadCPU()
		for range b.N {
			if !ks[1].SenderVerify(0, sign.Label, content, sig) {
				b.Fatal("no")
			}
		}
		b.ReportMetric(float64(benchutil.ThreadCPU()-cpu)/float64(b.N), "cpu-ns/op")
	})
}
