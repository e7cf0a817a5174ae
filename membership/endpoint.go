package membership

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Endpoint identifies one incarnation of a member process: its address and
// a number drawn at random when the process starts, so that a process that
// crashes and comes back at the same address is a new endpoint.
type Endpoint struct {
	Addr netip.AddrPort
	Inc  uint32
}

func (e Endpoint) String() string { return fmt.Sprintf("%v#%08x", e.Addr, e.Inc) }

// Compare orders endpoints by address, then incarnation.
func (e Endpoint) Compare(o Endpoint) int {
	return cmp.Or(e.Addr.Compare(o.Addr), cmp.Compare(e.Inc, o.Inc))
}

// IsZero reports whether e is the zero endpoint.
func (e Endpoint) IsZero() bool { return e == Endpoint{} }

// ViewID names a view: the logical time at which its coordinator made it,
// and that coordinator. A coordinator never makes two views with the same
// logical time, so a view id names exactly one member list.
type ViewID struct {
	LTime uint64
	Coord Endpoint
}

func (id ViewID) String() string { return fmt.Sprintf("%d@%v", id.LTime, id.Coord) }

// Compare orders view ids by logical time, then coordinator.
func (id ViewID) Compare(o ViewID) int {
	return cmp.Or(cmp.Compare(id.LTime, o.LTime), id.Coord.Compare(o.Coord))
}

// Wire is the 64-bit number the view's datagrams carry, so that a member
// drops datagrams of any other view cheaply.
func (id ViewID) Wire() uint64 {
	b := appendViewID([]byte("conclave view\x00"), id)
	h := sha256.Sum256(b)
	return binary.BigEndian.Uint64(h[:8])
}

// View is an agreed membership: its id and its members in order. The first
// member is the coordinator.
type View struct {
	ID      ViewID
	Members []Endpoint
}

// Rank is e's position in the view, or -1.
func (v *View) Rank(e Endpoint) int { return slices.Index(v.Members, e) }

// Has reports whether e is a member.
func (v *View) Has(e Endpoint) bool { return v.Rank(e) >= 0 }

// Coordinator is the view's first member.
func (v *View) Coordinator() Endpoint { return v.Members[0] }

func (v View) String() string {
	names := make([]string, len(v.Members))
	for i, m := range v.Members {
		names[i] = m.String()
	}
	return fmt.Sprintf("view %v [%s]", v.ID, strings.Join(names, " "))
}

// Clone returns a deep copy.
func (v View) Clone() View { v.Members = slices.Clone(v.Members); return v }

// Summary is what a member tells outsiders about its view when looking for
// partitions to merge with (with a participant, only the coordinator and
// an opaque ordering key: merge.go).
type Summary struct {
	ID    ViewID
	Size  uint64
	Coord Endpoint // the view's current coordinator
}

// absorbs reports whether a view summarised by a should absorb the view
// summarised by b when they merge: the larger view absorbs the smaller, the
// one with the larger coordinator breaks a tie. Exactly one of absorbs(a,b)
// and absorbs(b,a) holds for different coordinators.
func absorbs(a, b Summary) bool {
	if a.Size != b.Size {
		return a.Size > b.Size
	}
	return a.Coord.Compare(b.Coord) > 0
}
