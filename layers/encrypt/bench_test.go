package encrypt

import (
	"crypto/aes"
	"crypto/cipher"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
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

// raw is what a raw AEAD benchmark does, and nothing more: AES-128-GCM,
// the suite's AEAD, built once (cipher.NewGCM over aes.NewCipher, as
// crypto.Suite.NewAEAD builds it), Seal of a plaintext of the benchmark's
// size into one buffer with a fixed 12-byte nonce, then Open of it into
// another. No nonce is derived, no header written or parsed, no replay
// checked, no stack crossed. With aadLen > 0 it authenticates that many
// bytes of additional data as well: the AEAD work the layer cannot avoid.
type raw struct {
	a              cipher.AEAD
	nonce, pt, aad []byte
	ct, out        []byte
}

func newRaw(size, aadLen int) *raw {
	blk, _ := aes.NewCipher(make([]byte, 16))
	a, _ := cipher.NewGCM(blk)
	return &raw{a: a, nonce: make([]byte, 12), pt: make([]byte, size), aad: make([]byte, aadLen), ct: make([]byte, 0, size+16), out: make([]byte, 0, size)}
}

// layerAAD is the length of the additional data the layer hands its
// sealer in the benchmark's pipe, padding included.
func layerAAD(p *pipe) int {
	return len(p.tx.Layer("encrypt").(*Layer).additional(0, layers.ECast, layers.AllPeers))
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

func rawAEAD(b *testing.B, size, aadLen int) {
	r := newRaw(size, aadLen)
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
		b.Run(fmt.Sprint(n), func(b *testing.B) { rawAEAD(b, n, 0) })
	}
}

func BenchmarkRawAEADWithAAD(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) { rawAEAD(b, n, layerAAD(newPipe(b, n, true))) })
	}
}

// BenchmarkRatio measures the target, the layer's cost per datagram
// against a raw AEAD's of the same size, with no test to write:
//
//	go test -run '^$' -bench Ratio -count 5 ./layers/encrypt
//
// The layer's cost is a secured stack's (bottom and encrypt, the datagram
// sealed by one member and opened by another) minus a plain stack's
// (bottom alone). Each round runs a batch of each of the four, one after
// the other, timed by the thread's CPU clock, so that the machine's other
// work is shared out evenly and its preemptions count for none of them.
// It reports:
//
//	layer/raw      the layer's cost over raw's (raw: Seal and Open alone)
//	layer/raw-med  the same, the median of the rounds' own ratios, which a
//	               round slowed by the machine's other work does not move
//	layer/raw+aad  the layer's over raw's with the layer's additional data
//	stack/raw      the secured stack's over raw's
//	layer-ns, raw-ns, raw+aad-ns  the costs per datagram
func BenchmarkRatio(b *testing.B) {
	// Reading the thread's CPU clock is a system call of a microsecond or
	// more, which falls into the batches around it: over 2048 datagrams
	// it adds well under a nanosecond to each, where over 256 it inflated
	// the raw AEAD's cost by some 3%.
	const batch = 2048
	for _, n := range benchSizes {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			sec, plain := newPipe(b, n, true), newPipe(b, n, false)
			r, ra := newRaw(n, 0), newRaw(n, layerAAD(sec))
			var tSec, tPlain, tRaw, tAAD time.Duration
			var ratios []float64
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
				if t3 > t2 {
					ratios = append(ratios, float64((t1-t0)-(t2-t1))/float64(t3-t2))
				}
				ops += batch
			}
			per := func(d time.Duration) float64 { return float64(d) / float64(ops) }
			layer := per(tSec - tPlain)
			b.ReportMetric(layer/per(tRaw), "layer/raw")
			if len(ratios) > 0 {
				slices.Sort(ratios)
				b.ReportMetric(ratios[len(ratios)/2], "layer/raw-med")
			}
			b.ReportMetric(layer/per(tAAD), "layer/raw+aad")
			b.ReportMetric(per(tSec)/per(tRaw), "stack/raw")
			b.ReportMetric(layer, "layer-ns")
			b.ReportMetric(per(tRaw), "raw-ns")
			b.ReportMetric(per(tAAD), "raw+aad-ns")
		})
	}
}
