package encrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"github.com/conclave-go/conclave/internal/benchutil"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

var benchSizes = []int{64, 1024}

// pipe is one datagram's trip, sealed by a sender's stack and opened by a
// receiver's, both of bottom and encrypt (secured) or of bottom alone: the
// layer's cost is the difference.
type pipe struct {
	tx, rx  *layers.Stack
	payload []byte
}

func newPipe(b *testing.B, size int, secured bool) *pipe {
	mk := func(rank int) *layers.Stack {
		ls := []layers.Layer{bottom.New()}
		var keys layers.Keys
		if secured {
			ls = append(ls, New(Config{}))
			keys = newKeys(b, 1)
		}
		s, err := layers.New(layers.Config{View: layers.View{Group: testGroup, ID: testView, Rank: rank, N: 2}, Keys: keys}, ls...)
		if err != nil {
			b.Fatal(err)
		}
		return s
	}
	return &pipe{tx: mk(0), rx: mk(1), payload: make([]byte, size)}
}

func (p *pipe) step(b *testing.B) {
	p.tx.Cast(p.payload)
	d := p.tx.Ready().Packets
	if len(d) != 1 || !p.rx.Receive(d[0].Data) || len(p.rx.Ready().Deliveries) != 1 {
		b.Fatal("datagram lost")
	}
	p.tx.Advance()
	p.rx.Advance()
}

// raw is AES-128-GCM Seal and Open of the same size, the suite's AEAD with
// nothing around it.
// With aad, it authenticates additional data as long as the layer's in
// the benchmark's view (15 bytes): the AEAD work the layer cannot avoid.
type raw struct {
	a              cipher.AEAD
	nonce, pt, aad []byte
	ct, out        []byte
}

func newRaw(size int, aad bool) *raw {
	blk, _ := aes.NewCipher(make([]byte, 16))
	a, _ := cipher.NewGCM(blk)
	r := &raw{a: a, nonce: make([]byte, 12), pt: make([]byte, size), ct: make([]byte, 0, size+16), out: make([]byte, 0, size)}
	if aad {
		r.aad = make([]byte, 15)
	}
	return r
}

func (r *raw) step(b *testing.B) {
	r.ct = r.a.Seal(r.ct[:0], r.nonce, r.pt, r.aad)
	var err error
	if r.out, err = r.a.Open(r.out[:0], r.nonce, r.ct, r.aad); err != nil {
		b.Fatal(err)
	}
}

func downUp(b *testing.B, size int, secured bool) {
	p := newPipe(b, size, secured)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		p.step(b)
	}
}

func rawAEAD(b *testing.B, size int, aad bool) {
	r := newRaw(size, aad)
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		r.step(b)
	}
}

func BenchmarkDownUp(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) { downUp(b, n, true) })
	}
}

func BenchmarkDownUpPlain(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) { downUp(b, n, false) })
	}
}

func BenchmarkRawAEAD(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) { rawAEAD(b, n, false) })
	}
}

func BenchmarkRawAEADWithAAD(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) { rawAEAD(b, n, true) })
	}
}

// BenchmarkRatio runs the four interleaved, in batches timed by the
// thread's CPU clock, so that a busy machine's preemptions count for none
// of them, and reports the layer's cost per datagram
// (secured stack minus plain stack) and the secured stack's over the raw
// AEAD's, and the layer's over a raw AEAD with additional data as long as
// the layer's, with no test to write:
//
//	go test -run '^$' -bench Ratio ./layers/encrypt
func BenchmarkRatio(b *testing.B) {
	const batch = 256
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sec, plain, r, ra := newPipe(b, n, true), newPipe(b, n, false), newRaw(n, false), newRaw(n, true)
			var tSec, tPlain, tRaw, tAAD time.Duration
			ops := 0
			defer benchutil.LockThread()()
			for b.Loop() {
				t0 := benchutil.ThreadCPU()
				for range batch {
					sec.step(b)
				}
				t1 := benchutil.ThreadCPU()
				for range batch {
					plain.step(b)
				}
				t2 := benchutil.ThreadCPU()
				for range batch {
					r.step(b)
				}
				t3 := benchutil.ThreadCPU()
				for range batch {
					ra.step(b)
				}
				t4 := benchutil.ThreadCPU()
				tSec, tPlain, tRaw, tAAD = tSec+t1-t0, tPlain+t2-t1, tRaw+t3-t2, tAAD+t4-t3
				ops += batch
			}
			per := func(d time.Duration) float64 { return float64(d) / float64(ops) }
			layer := per(tSec - tPlain)
			b.ReportMetric(layer/per(tRaw), "layer/raw")
			b.ReportMetric(layer/per(tAAD), "layer/raw+aad")
			b.ReportMetric(per(tSec)/per(tRaw), "stack/raw")
			b.ReportMetric(layer, "layer-ns")
			b.ReportMetric(per(tRaw), "raw-ns")
		})
	}
}
