package hostile

import (
	"encoding/binary"
	"net/netip"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/membership"
)

// Answer is what a stranger learns from a member's Probe or ProbeReply:
// who sent it, the view it speaks for, and the cookie the member issued
// for the stranger's address, which proves that address to the member
// when sent back.
type Answer struct {
	Type    ControlType
	From    membership.Endpoint
	Summary membership.Summary
	Cookie  []byte
}

// ReadAnswer reads a Probe or ProbeReply of group; ok is false for
// anything else.
func ReadAnswer(b []byte, group uint64) (a Answer, ok bool) {
	r := wire.NewReader(b)
	if r.Byte() != membership.Magic || r.Uint64() != group {
		return Answer{}, false
	}
	a.Type = ControlType(r.Byte())
	if a.Type != Probe && a.Type != ProbeReply {
		return Answer{}, false
	}
	a.From = readEndpoint(&r)
	a.Summary = membership.Summary{ID: readViewID(&r), Size: r.Uvarint(), Coord: readEndpoint(&r)}
	if n := r.UvarintMax(CookieLen); n == CookieLen {
		a.Cookie = r.Bytes(CookieLen)
	}
	return a, r.Err() == nil
}

func readEndpoint(r *wire.Reader) membership.Endpoint {
	var a netip.Addr
	switch r.Byte() {
	case 4:
		if b := r.Bytes(4); b != nil {
			a = netip.AddrFrom4([4]byte(b))
		}
	case 6:
		if b := r.Bytes(16); b != nil {
			a = netip.AddrFrom16([16]byte(b))
		}
	default:
		r.Fail(wire.ErrBadTag)
	}
	p, inc := r.Bytes(2), r.Bytes(4)
	if r.Err() != nil {
		return membership.Endpoint{}
	}
	return membership.Endpoint{Addr: netip.AddrPortFrom(a, binary.BigEndian.Uint16(p)), Inc: binary.BigEndian.Uint32(inc)}
}

func readViewID(r *wire.Reader) membership.ViewID {
	return membership.ViewID{LTime: r.Uvarint(), Coord: readEndpoint(r)}
}

// Merge builds the MergeReq of a stranger that fetched cookies: it asks
// the member whose view is to absorb a view of the stranger alone, at
// logical time ltime (0, 2^64−1 and its neighbours are the hostile ones),
// with the cookie that proves the stranger's address, and naming third
// addresses too with forged cookies when third is not empty.
func (s *Stranger) Merge(self membership.Endpoint, to Answer, ltime uint64, third []netip.AddrPort, b []byte) []byte {
	c := Control{Group: s.Group, Type: MergeReq, From: self, View: to.Summary.ID}
	c.Proposal = membership.View{ID: membership.ViewID{LTime: ltime, Coord: self}, Members: []membership.Endpoint{self}}
	c.Cookies = [][]byte{to.Cookie}
	for i, a := range third {
		c.Proposal.Members = append(c.Proposal.Members, membership.Endpoint{Addr: a, Inc: uint32(i + 1)})
		forged := make([]byte, CookieLen)
		copy(forged, to.Cookie)
		forged[CookieLen-1] ^= byte(1 + i)
		c.Cookies = append(c.Cookies, forged)
	}
	return c.Append(b)
}

// Claim builds a Probe from a stranger that fetched a cookie: it echoes
// the cookie, proving its address, and claims a view of size members at
// logical time ltime that should absorb the member's.
func (s *Stranger) Claim(self membership.Endpoint, to Answer, ltime, size uint64, b []byte) []byte {
	c := Control{Group: s.Group, Type: Probe, From: self, Echo: to.Cookie, Pad: 64}
	c.Summary = membership.Summary{ID: membership.ViewID{LTime: ltime, Coord: self}, Size: size, Coord: self}
	return c.Append(b)
}
