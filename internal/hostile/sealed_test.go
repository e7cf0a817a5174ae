package hostile

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// TestEnvelopeAsMembershipReadsIt seals a Suspect and a Wait in an
// envelope: membership names the inner message through the envelope, the
// seal saw exactly the bytes before the tag, in the class membership
// gives the type, and the tag ends the datagram.
func TestEnvelopeAsMembershipReadsIt(t *testing.T) {
	from := membership.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:10001"), Inc: 7}
	other := membership.Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:10002"), Inc: 9}
	view := membership.ViewID{LTime: 4, Coord: from}
	for _, tc := range []struct {
		c     Control
		name  string
		class membership.Class
	}{
		{Control{Group: 7, Type: Suspect, From: from, View: view, Suspects: []membership.Endpoint{other}}, "Suspect", membership.Change},
		{Control{Group: 7, Type: Leave, From: from, View: view}, "Leave", membership.Change},
		{Control{Group: 7, Type: Wait, From: from, Round: view}, "Wait", membership.Routine},
	} {
		var signed []byte
		var class membership.Class
		tag := []byte("a tag of some length")
		seal := func(dst, msg []byte, c membership.Class) []byte {
			signed, class = bytes.Clone(msg), c
			return append(dst, tag...)
		}
		env := Envelope{Group: 7, From: from, View: view.Wire(), Rank: 1, Seq: 300}
		d := env.Append(nil, tc.c.Append(nil), ClassOf(tc.c.Type), seal)
		if name, ok := membership.ControlType(d, 7); !ok || name != tc.name {
			t.Errorf("%v: membership reads %q, %v", tc.c.Type, name, ok)
		}
		if !IsSealed(d, 7) || IsSealed(d, 8) || IsSealed(tc.c.Append(nil), 7) {
			t.Errorf("%v: IsSealed wrong", tc.c.Type)
		}
		if class != tc.class {
			t.Errorf("%v: sealed in class %v, want %v", tc.c.Type, class, tc.class)
		}
		want := append(append(bytes.Clone(signed), byte(len(tag))), tag...)
		if !bytes.Equal(d, want) {
			t.Errorf("%v: the tag does not follow exactly the bytes sealed:\n% x\n% x", tc.c.Type, d, want)
		}
		if got := binary.BigEndian.Uint64(d[1:9]); got != 7 {
			t.Errorf("group %d", got)
		}
	}
}
