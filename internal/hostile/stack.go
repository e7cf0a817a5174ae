package hostile

import (
	"encoding/binary"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
)

// The stack's wire format, bottom up, as the layers of compose.Reliable
// and compose.Total push their headers (see each layer's package doc):
//
//	bottom   version, group, view, sender, type
//	bundle   EBundle: frames of type, length, bytes
//	mnak     ECast: seq; ESendUnrel: marker 0 (pass), 1 NAK, 2 RETRANS
//	pt2pt    ESend: seq; ESendUnrel after mnak's 0: marker 0, 1 ACK, 2 NAK, 3 RETRANS
//	stable   ECastUnrel: marker 0 (pass) or 1 gossip
//	total    ECast: tag 0 DATA or 1 ORDER (compose.Total only)
//	frag     ECast, ESend: tag 0 whole, 1 first (total length), 2 next

// Header is the bottom layer's header.
type Header struct {
	Group  uint64
	View   uint64 // the view's wire id
	Sender uint64 // rank in the view
	Type   layers.Type
}

// Append appends the header with minimal varints.
func (h Header) Append(b []byte) []byte { return h.AppendEnc(b, Minimal) }

// AppendEnc appends the header with the view and sender in encoding e.
func (h Header) AppendEnc(b []byte, e Encoding) []byte {
	b = append(b, bottom.Version)
	b = binary.BigEndian.AppendUint64(b, h.Group)
	b = AppendVarint(b, h.View, e)
	b = AppendVarint(b, h.Sender, e)
	return append(b, byte(h.Type))
}

// Run is a run of sequence numbers a NAK asks for.
type Run struct{ First, Count uint64 }

// Frag tags and the total order layer's tags.
const (
	fragWhole = 0
	fragFirst = 1
	fragNext  = 2
	totalData = 0
	totalOrd  = 1
)

// Upper builds the headers of the layers above the reliable ones, then the
// application's bytes: what mnak and pt2pt carry after their sequence
// number.
type Upper struct {
	Total bool // the stack runs total order: casts carry its tag first
}

// Whole is a whole (unfragmented) message.
func (u Upper) Whole(b []byte, cast bool, app []byte) []byte {
	b = u.data(b, cast)
	return append(append(b, fragWhole), app...)
}

// First is a first fragment claiming a message of total bytes.
func (u Upper) First(b []byte, cast bool, total uint64, e Encoding, chunk []byte) []byte {
	b = u.data(b, cast)
	b = AppendVarint(append(b, fragFirst), total, e)
	return append(b, chunk...)
}

// Next is a following fragment.
func (u Upper) Next(b []byte, cast bool, chunk []byte) []byte {
	b = u.data(b, cast)
	return append(append(b, fragNext), chunk...)
}

func (u Upper) data(b []byte, cast bool) []byte {
	if u.Total && cast {
		b = append(b, totalData)
	}
	return b
}

// OrderRun is one run of a total order ORDER: deliver the next Count casts
// of Origin.
type OrderRun struct{ Origin, Count uint64 }

// Order is the body of the sequencer's ORDER cast (after mnak's seq).
func Order(b []byte, runs []OrderRun, e Encoding) []byte {
	b = append(b, totalOrd)
	for _, r := range runs {
		b = AppendVarint(b, r.Origin, e)
		b = AppendVarint(b, r.Count, e)
	}
	return b
}

// Seq prefixes a reliable message's upper bytes with its sequence number:
// the body of an ECast (mnak) or an ESend (pt2pt).
func Seq(b []byte, seq uint64, e Encoding, upper []byte) []byte {
	return append(AppendVarint(b, seq, e), upper...)
}

// Runs appends a NAK's runs: their count, then first and count of each.
func Runs(b []byte, runs []Run, e Encoding) []byte {
	b = AppendVarint(b, uint64(len(runs)), e)
	for _, r := range runs {
		b = AppendVarint(b, r.First, e)
		b = AppendVarint(b, r.Count, e)
	}
	return b
}

// MnakNak is the body of an ESendUnrel asking for origin's casts.
func MnakNak(b []byte, origin uint64, runs []Run, e Encoding) []byte {
	return Runs(AppendVarint(append(b, 1), origin, e), runs, e)
}

// MnakRetrans is the body of an ESendUnrel retransmitting origin's cast seq.
func MnakRetrans(b []byte, origin, seq uint64, e Encoding, upper []byte) []byte {
	b = AppendVarint(append(b, 2), origin, e)
	return append(AppendVarint(b, seq, e), upper...)
}

// PtAck is the body of a pt2pt acknowledgement up to next.
func PtAck(b []byte, next uint64, e Encoding) []byte {
	return AppendVarint(append(b, 0, 1), next, e)
}

// PtNak is the body of a pt2pt NAK.
func PtNak(b []byte, runs []Run, e Encoding) []byte {
	return Runs(append(b, 0, 2), runs, e)
}

// PtRetrans is the body of a pt2pt retransmission of seq.
func PtRetrans(b []byte, seq uint64, e Encoding, upper []byte) []byte {
	return append(AppendVarint(append(b, 0, 3), seq, e), upper...)
}

// Gossip is the body of an ECastUnrel carrying a stability ack vector,
// whose length prefix is claimed (the view size, for a valid one).
func Gossip(b []byte, claimed uint64, vec []uint64, e Encoding) []byte {
	b = AppendVarint(append(b, 1), claimed, e)
	for _, x := range vec {
		b = AppendVarint(b, x, e)
	}
	return b
}

// Frame is one message inside a bundle.
type Frame struct {
	Type layers.Type
	Body []byte
}

// AppendFrame appends one bundle frame.
func AppendFrame(b []byte, f Frame) []byte {
	b = append(b, byte(f.Type))
	b = binary.AppendUvarint(b, uint64(len(f.Body)))
	return append(b, f.Body...)
}

// FrameLen is the bytes f takes in a bundle.
func FrameLen(f Frame) int { return 1 + varintLen(uint64(len(f.Body))) + len(f.Body) }

func varintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}
