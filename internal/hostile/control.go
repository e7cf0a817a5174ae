package hostile

import (
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"

	"github.com/conclave-go/conclave/membership"
)

// ControlType is a membership control message's type byte.
type ControlType uint8

// Control message types, as membership/wire.go numbers them.
const (
	Probe ControlType = iota + 1
	ProbeReply
	MergeReq
	Flush
	FlushOK
	Sync
	SyncOK
	Install
	InstallAck
	Suspect
	Leave
	Wait
	Dismiss
	numControl
)

var controlNames = [...]string{
	Probe: "Probe", ProbeReply: "ProbeReply", MergeReq: "MergeReq", Flush: "Flush", FlushOK: "FlushOK",
	Sync: "Sync", SyncOK: "SyncOK", Install: "Install", InstallAck: "InstallAck", Suspect: "Suspect",
	Leave: "Leave", Wait: "Wait", Dismiss: "Dismiss",
}

func (t ControlType) String() string {
	if int(t) < len(controlNames) && controlNames[t] != "" {
		return controlNames[t]
	}
	if t == SealedType {
		return "Sealed"
	}
	return fmt.Sprintf("ControlType(%d)", uint8(t))
}

// CookieLen is the length of a membership cookie proving an address.
const CookieLen = 17

// Control is a membership control message (membership/wire.go): each type
// uses some of the fields, in the order they are listed.
type Control struct {
	Group     uint64
	Type      ControlType
	From      membership.Endpoint
	View      membership.ViewID  // Flush, Suspect, Leave, MergeReq
	Summary   membership.Summary // Probe, ProbeReply, Sync
	Cookie    []byte             // Probe, ProbeReply, SyncOK: empty or CookieLen bytes
	Echo      []byte             // Probe, ProbeReply: empty or CookieLen bytes
	Pad       int                // Probe: zero bytes added
	Cookies   [][]byte           // MergeReq: one of CookieLen bytes per member of Proposal
	Proposal  membership.View    // Flush, MergeReq
	Survivors []membership.Endpoint
	Round     membership.ViewID
	Vector    []uint64
	Holders   []uint64
	Data      []byte
	Suspects  []membership.Endpoint
}

// Append appends the control datagram.
func (c *Control) Append(b []byte) []byte {
	b = append(b, membership.Magic)
	b = binary.BigEndian.AppendUint64(b, c.Group)
	b = append(b, byte(c.Type))
	b = appendEndpoint(b, c.From)
	switch c.Type {
	case Probe, ProbeReply:
		b = appendSummary(b, c.Summary)
		b = appendBlob(b, c.Cookie)
		b = appendBlob(b, c.Echo)
		if c.Type == Probe {
			b = appendBlob(b, make([]byte, c.Pad))
		}
	case MergeReq:
		b = appendViewID(b, c.View)
		b = appendViewID(b, c.Proposal.ID)
		b = appendEndpoints(b, c.Proposal.Members)
		for _, k := range c.Cookies {
			b = append(b, k...)
		}
	case Flush:
		b = appendViewID(b, c.View)
		b = appendViewID(b, c.Proposal.ID)
		b = appendEndpoints(b, c.Proposal.Members)
		b = appendEndpoints(b, c.Survivors)
	case FlushOK:
		b = appendViewID(b, c.Round)
		b = appendVector(b, c.Vector)
		b = appendBlob(b, c.Data)
	case Sync:
		b = appendViewID(b, c.Round)
		b = appendVector(b, c.Vector)
		b = appendVector(b, c.Holders)
		b = appendSummary(b, c.Summary)
	case SyncOK:
		b = appendViewID(b, c.Round)
		b = appendBlob(b, c.Cookie)
	case Install, InstallAck, Wait, Dismiss:
		b = appendViewID(b, c.Round)
	case Suspect:
		b = appendViewID(b, c.View)
		b = appendEndpoints(b, c.Suspects)
	case Leave:
		b = appendViewID(b, c.View)
	}
	return b
}

func appendEndpoint(b []byte, e membership.Endpoint) []byte {
	a := e.Addr.Addr()
	if a.Is4() {
		a4 := a.As4()
		b = append(append(b, 4), a4[:]...)
	} else {
		a16 := a.As16()
		b = append(append(b, 6), a16[:]...)
	}
	b = binary.BigEndian.AppendUint16(b, e.Addr.Port())
	return binary.BigEndian.AppendUint32(b, e.Inc)
}

func appendViewID(b []byte, id membership.ViewID) []byte {
	return appendEndpoint(binary.AppendUvarint(b, id.LTime), id.Coord)
}

func appendEndpoints(b []byte, es []membership.Endpoint) []byte {
	b = binary.AppendUvarint(b, uint64(len(es)))
	for _, e := range es {
		b = appendEndpoint(b, e)
	}
	return b
}

func appendSummary(b []byte, s membership.Summary) []byte {
	b = appendViewID(b, s.ID)
	b = binary.AppendUvarint(b, s.Size)
	return appendEndpoint(b, s.Coord)
}

func appendVector(b []byte, v []uint64) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	for _, x := range v {
		b = binary.AppendUvarint(b, x)
	}
	return b
}

func appendBlob(b, blob []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(blob))), blob...)
}

// Stranger is what an attacker at a stranger's address knows: its own
// address, the victim's group and view (control traffic is unencrypted),
// and third addresses it will try to make the victim send to.
type Stranger struct {
	Group uint64
	Self  netip.AddrPort // the address it sends from
	View  membership.View
	Third []netip.AddrPort // addresses that sent nothing: no member may send to them
	// MaxLTime, when not zero, caps the logical times Control uses, so
	// that every message it builds is valid on the wire; zero lets them
	// run past membership.MaxLTime to 2^64−1.
	MaxLTime uint64
}

// Control builds one hostile control message from the stranger, appended
// to b: a Probe or ProbeReply claiming a larger view whose coordinator is a
// third address, a MergeReq naming made-up joiners at third addresses, a
// Flush, Sync or Install from a non-member, a Suspect or Leave naming the
// view's members, with logical times at 0 and near 2^64−1 and lists at and
// past their bounds. Its type is drawn from src.
func (s *Stranger) Control(src Source, b []byte) (ControlType, []byte) {
	inc := uint32(src.Uint64()) | 1
	me := membership.Endpoint{Addr: s.Self, Inc: inc}
	third := func() membership.Endpoint {
		if len(s.Third) == 0 {
			return me
		}
		return membership.Endpoint{Addr: pick(src, s.Third), Inc: uint32(src.Uint64()) | 1}
	}
	ltime := func() uint64 {
		t := pick(src, []uint64{0, 1, s.View.ID.LTime, s.View.ID.LTime + 1, membership.MaxLTime, membership.MaxLTime + 1, math.MaxUint64 - 1, math.MaxUint64, src.Uint64()})
		if s.MaxLTime != 0 {
			t = min(t, s.MaxLTime)
		}
		return t
	}
	joiners := func(k int) []membership.Endpoint {
		seen := map[membership.Endpoint]bool{}
		var es []membership.Endpoint
		for range k {
			e := third()
			if !seen[e] {
				seen[e] = true
				es = append(es, e)
			}
		}
		return es
	}
	cookie := func() []byte {
		if src.IntN(3) == 0 {
			return nil
		}
		k := make([]byte, CookieLen)
		for i := range k {
			k[i] = byte(src.IntN(256))
		}
		return k
	}
	c := Control{Group: s.Group, Type: ControlType(1 + src.IntN(int(numControl)-1)), From: me}
	c.Cookie, c.Echo = cookie(), cookie()
	size := pick(src, []uint64{uint64(len(s.View.Members)) + 1, membership.MaxMembers, math.MaxUint64})
	if size > membership.MaxMembers {
		size = membership.MaxMembers
	}
	switch c.Type {
	case Probe, ProbeReply, Sync:
		c.Pad = src.IntN(2) * 64
		coord := third()
		if src.IntN(3) == 0 {
			coord = me
		}
		c.Summary = membership.Summary{ID: membership.ViewID{LTime: ltime(), Coord: coord}, Size: size, Coord: coord}
		c.Round = membership.ViewID{LTime: ltime(), Coord: me}
		c.Vector = make([]uint64, len(s.View.Members))
		for i := range c.Vector {
			c.Vector[i] = pick(src, Huge)
		}
		c.Holders = make([]uint64, len(s.View.Members))
	case MergeReq, Flush:
		c.View = s.View.ID
		if src.IntN(3) == 0 {
			c.View = membership.ViewID{LTime: ltime(), Coord: third()}
		}
		c.Proposal = membership.View{ID: membership.ViewID{LTime: ltime(), Coord: me}}
		c.Proposal.Members = append([]membership.Endpoint{me}, joiners(1+src.IntN(membership.MaxMembers-1))...)
		c.Proposal.Members = append(c.Proposal.Members, s.View.Members...)
		if len(c.Proposal.Members) > membership.MaxMembers {
			c.Proposal.Members = c.Proposal.Members[:membership.MaxMembers]
		}
		c.Survivors = s.View.Members
		for range c.Proposal.Members {
			k := cookie()
			if k == nil {
				k = make([]byte, CookieLen)
			}
			c.Cookies = append(c.Cookies, k)
		}
	case FlushOK, SyncOK, InstallAck, Wait, Dismiss, Install:
		c.Round = membership.ViewID{LTime: ltime(), Coord: pick(src, append([]membership.Endpoint{me}, s.View.Members...))}
		c.Vector = []uint64{pick(src, Huge)}
		c.Data = make([]byte, src.IntN(64))
	case Suspect, Leave:
		c.View = s.View.ID
		c.Suspects = s.View.Members
		if len(c.Suspects) == 0 {
			c.Suspects = joiners(1)
		}
	}
	return c.Type, c.Append(b)
}
