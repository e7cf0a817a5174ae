package hostile

import (
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/bundle"
)

// Retrans is one retransmission found in a datagram a member sent: of
// origin's cast Seq (mnak), or of the sender's own point-to-point message
// Seq to the datagram's destination (pt2pt, Origin −1).
type Retrans struct {
	View   uint64 // the view's wire id
	Origin int
	Seq    uint64
}

// Retransmissions appends to dst the retransmissions in datagram, a stack
// datagram a member sent (bundled or not), read with the stack's own
// parsers. Anything else (control messages, malformed bytes) has none.
func Retransmissions(datagram []byte, dst []Retrans, scratch []layers.Event) ([]Retrans, []layers.Event) {
	h, err := bottom.Parse(datagram)
	if err != nil {
		return dst, scratch
	}
	body := datagram[h.Len:]
	if h.Type != layers.EBundle {
		return retrans(h.View, h.Type, body, dst), scratch
	}
	scratch, err = bundle.Split(body, 0, scratch[:0])
	if err != nil {
		return dst, scratch
	}
	for i := range scratch {
		dst = retrans(h.View, scratch[i].Type, scratch[i].Msg.Body, dst)
	}
	clear(scratch)
	return dst, scratch[:0]
}

func retrans(view uint64, t layers.Type, b []byte, dst []Retrans) []Retrans {
	if t != layers.ESendUnrel {
		return dst
	}
	r := wire.NewReader(b)
	switch r.Byte() {
	case 0: // mnak passes it to pt2pt
		if r.Byte() != 3 {
			return dst
		}
		seq := r.Uvarint()
		if r.Err() == nil {
			dst = append(dst, Retrans{View: view, Origin: -1, Seq: seq})
		}
	case 2:
		origin := r.UvarintMax(1 << 31)
		seq := r.Uvarint()
		if r.Err() == nil {
			dst = append(dst, Retrans{View: view, Origin: int(origin), Seq: seq})
		}
	}
	return dst
}
