package sim

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Kind says how a workload message travels.
type Kind uint8

// Kinds of workload messages.
const (
	KindCast Kind = 1 // multicast to the group, the sender included
	KindSend Kind = 2 // point-to-point to one member, possibly the sender
)

func (k Kind) String() string {
	switch k {
	case KindCast:
		return "cast"
	case KindSend:
		return "send"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// ID names one workload message. Messages form streams: a member's casts,
// and a member's sends to one destination. Index is the message's place in
// its stream, from 0.
type ID struct {
	Kind  Kind
	From  int
	To    int // destination of a send; 0 for a cast
	Index int
}

func (id ID) String() string {
	if id.Kind == KindSend {
		return fmt.Sprintf("send %d→%d #%d", id.From, id.To, id.Index)
	}
	return fmt.Sprintf("cast %d #%d", id.From, id.Index)
}

// Payload layout: a header naming the message, then filler that depends on
// the seed and the message, so that a corrupted, truncated or misattributed
// payload does not pass as another one.
//
//	magic  byte     payloadMagic
//	kind   byte     Kind
//	from   uvarint
//	to     uvarint
//	index  uvarint
//	filler
const payloadMagic = 0xc5

// Payload returns the bytes of message id: size bytes, or the header's
// length if that is more.
func Payload(seed uint64, id ID, size int) []byte {
	b := make([]byte, 0, max(size, 2+3*binary.MaxVarintLen64))
	b = append(b, payloadMagic, byte(id.Kind))
	b = binary.AppendUvarint(b, uint64(id.From))
	b = binary.AppendUvarint(b, uint64(id.To))
	b = binary.AppendUvarint(b, uint64(id.Index))
	header := len(b)
	x := mix(seed, uint64(id.Kind), uint64(id.From), uint64(id.To), uint64(id.Index))
	for len(b) < size {
		x = splitmix(x)
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b[:max(size, header)]
}

// ParsePayload reads the ID from a payload's header. It reports false when
// b is no workload message.
func ParsePayload(b []byte) (ID, bool) {
	if len(b) < 2 || b[0] != payloadMagic || (Kind(b[1]) != KindCast && Kind(b[1]) != KindSend) {
		return ID{}, false
	}
	id := ID{Kind: Kind(b[1])}
	b = b[2:]
	for _, v := range []*int{&id.From, &id.To, &id.Index} {
		x, n := binary.Uvarint(b)
		if n <= 0 || x > 1<<31 {
			return ID{}, false
		}
		*v, b = int(x), b[n:]
	}
	return id, true
}

// Workload shape.
const (
	selfSendShare = 0.05 // of sends, to the sender itself
	largeShare    = 0.02 // of messages, large enough to be fragmented
	smallMin      = 8
	smallMax      = 200
	largeMin      = 2 << 10
	largeMax      = 40 << 10
)

// op is one message of the workload, sent by its process at time at. Its
// ID is given when it goes out, since a send's destination depends on the
// view the sender is in then.
type op struct {
	at    time.Duration
	kind  Kind
	size  int
	pick  uint64 // chooses a send's destination among the view's members
	to    int    // a send's destination process, or -1 to choose by pick
	final bool   // part of the final round: every live member must deliver it
}

// workload draws one process's messages from rng: casts and sends at
// uniform times in [from, to), in time order.
func workload(rng *rand.Rand, casts, sends int, from, to time.Duration) []op {
	ops := make([]op, 0, casts+sends)
	for i := range casts + sends {
		o := op{at: from, kind: KindCast, pick: rng.Uint64(), to: -1}
		if to > from {
			o.at += time.Duration(rng.Int64N(int64(to - from)))
		}
		if i >= casts {
			o.kind = KindSend
		}
		if rng.Float64() < largeShare {
			o.size = largeMin + rng.IntN(largeMax-largeMin+1)
		} else {
			o.size = smallMin + rng.IntN(smallMax-smallMin+1)
		}
		ops = append(ops, o)
	}
	slices.SortStableFunc(ops, func(a, b op) int { return cmp.Compare(a.at, b.at) })
	return ops
}

// destination chooses the destination of a send by pick among members, the
// view the sender is in (self is the sender's place in it): now and then
// the sender itself, else another member.
func destination(pick uint64, self, members int) int {
	if members == 1 || pick%1000 < uint64(selfSendShare*1000) {
		return self
	}
	to := int((pick / 1000) % uint64(members-1))
	if to >= self {
		to++
	}
	return to
}

// splitmix is one step of the SplitMix64 generator: a good 64-bit mixer.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// mix folds values into one well-mixed word.
func mix(vs ...uint64) uint64 {
	var h uint64
	for _, v := range vs {
		h = splitmix(h ^ v)
	}
	return h
}
