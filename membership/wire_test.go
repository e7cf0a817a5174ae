package membership

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"

	"github.com/conclave-go/conclave/internal/wire"
)

func sampleMessages() []ctlMsg {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	b := Endpoint{Addr: netip.MustParseAddrPort("[::1]:7001"), Inc: 0xdeadbeef}
	v := View{ID: ViewID{LTime: 9, Coord: a}, Members: []Endpoint{a, b}}
	s := Summary{ID: v.ID, Size: 2, Coord: a}
	ck := bytes.Repeat([]byte{7}, cookieLen)
	return []ctlMsg{
		{Type: mProbe, From: a, Summary: s},
		{Type: mProbe, From: a, Summary: s, Cookie: ck, Echo: ck, Pad: 30},
		{Type: mProbeReply, From: b, Summary: s},
		{Type: mProbeReply, From: b, Summary: s, Cookie: ck, Echo: ck},
		{Type: mMergeReq, From: a, View: v.ID, Proposal: v, Cookies: [][]byte{ck, ck}},
		{Type: mFlush, From: a, View: v.ID, Proposal: v, Survivors: []Endpoint{a}},
		{Type: mFlushOK, From: b, Round: v.ID, Vector: []uint64{3, 1 << 40}, Data: []byte{1, 2}},
		{Type: mSync, From: a, Round: v.ID, Vector: []uint64{3, 4}, Holders: []uint64{0, 1}, Summary: s},
		{Type: mSyncOK, From: b, Round: v.ID},
		{Type: mSyncOK, From: b, Round: v.ID, Cookie: ck},
		{Type: mInstall, From: a, Round: v.ID},
		{Type: mInstallAck, From: b, Round: v.ID},
		{Type: mSuspect, From: b, View: v.ID, Suspects: []Endpoint{a}},
		{Type: mLeave, From: b, View: v.ID},
		{Type: mWait, From: b, Round: v.ID},
		{Type: mDismiss, From: a, Round: v.ID},
		{Type: mDecideReq, From: a, Round: v.ID, Parts: []part{{E: a, B: []byte("c")}, {E: b}}},
		{Type: mDecision, From: b, Round: v.ID, Data: []byte("common"), Parts: []part{{E: a, B: []byte("pa")}, {E: b, B: []byte("pb")}}},
		{Type: mPrepare, From: a, Round: v.ID, Data: []byte("common"), Own: []byte("pb")},
		{Type: mConfirm, From: b, Round: v.ID, Data: []byte("tag")},
		{Type: mRefuse, From: b, Round: v.ID},
		{Type: mRefuse, From: b, Round: v.ID, Joiners: []Endpoint{a}},
		{Type: mRekey, From: b, View: v.ID},
		{Type: mFragment, From: a, Frag: fragment{ID: 7, Index: 1, Count: 3, Chunk: []byte("piece")}},
		{Type: mChallenge, From: a, Nonce: bytes.Repeat([]byte{9}, nonceLen)},
		{Type: mHandshake, From: b, Nonce: bytes.Repeat([]byte{9}, nonceLen), Step: 2, Data: []byte("noise")},
		{Type: mRefused, From: a, Peer: Identity{Provider: "noise", Name: "key"}, Data: []byte("not on the list")},
		{Type: mRefused, From: a, Peer: Identity{Provider: "noise", Name: "key"}},
	}
}

// TestSealedRoundTrip seals a message, opens it, and checks that a changed
// byte, a replay, or a rank that does not name the sender fails.
func TestSealedRoundTrip(t *testing.T) {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	b := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7001"), Inc: 2}
	v := View{ID: ViewID{LTime: 9, Coord: a}, Members: []Endpoint{a, b}}
	p := macParticipant{key: "k"}
	send, recv := newSealing(v, 1, p.Authenticator(v, 1)), newSealing(v, 0, p.Authenticator(v, 0))
	inner, _ := (&ctlMsg{Type: mSuspect, From: b, View: v.ID, Suspects: []Endpoint{a}}).encode(nil, 5)
	data := send.seal(5, b, inner, -1)
	open := func(d []byte, from Endpoint) (bool, string) {
		msg, err := decodeCtl(d, 5)
		if err != nil {
			return false, err.Error()
		}
		if msg.Type != mSealed || msg.From != from {
			return false, "not sealed"
		}
		return recv.open(msg.From, &msg.Sealed)
	}
	if ok, why := open(data, b); !ok {
		t.Fatalf("genuine message refused: %s", why)
	}
	if ok, _ := open(data, b); ok {
		t.Fatal("replay accepted")
	}
	bad := bytes.Clone(send.seal(5, b, inner, -1))
	bad[len(bad)-40] ^= 1
	if ok, _ := open(bad, b); ok {
		t.Fatal("changed message accepted")
	}
	other := newSealing(v, 1, p.Authenticator(v, 1))
	if ok, why := open(other.seal(5, a, inner, -1), a); ok || why != "drop.forged_control" {
		t.Fatalf("a rank naming another member: %v %s", ok, why)
	}
}

func TestControlRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b, err := m.encode(nil, 5)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		got, err := decodeCtl(b, 5)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		if again, _ := got.encode(nil, 5); !bytes.Equal(again, b) {
			t.Fatalf("%v: re-encodes differently", m.Type)
		}
		if _, err := decodeCtl(b, 6); err == nil {
			t.Fatalf("%v: accepted for another group", m.Type)
		}
		if _, err := decodeCtl(b[:len(b)-1], 5); err == nil {
			t.Fatalf("%v: accepted truncated", m.Type)
		}
		if _, err := decodeCtl(append(bytes.Clone(b), 0), 5); err == nil {
			t.Fatalf("%v: accepted with a trailing byte", m.Type)
		}
	}
}

func TestControlRejectsDuplicateMembers(t *testing.T) {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	m := ctlMsg{Type: mFlush, From: a, Proposal: View{Members: []Endpoint{a, a}}, Survivors: []Endpoint{a}}
	b, _ := m.encode(nil, 1)
	if _, err := decodeCtl(b, 1); err == nil {
		t.Fatal("accepted a view listing a member twice")
	}
}

// TestEncodeEnforcesDecodeBounds checks that a message every receiver
// would refuse is not encoded at all.
func TestEncodeEnforcesDecodeBounds(t *testing.T) {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	many := make([]Endpoint, MaxMembers+1)
	for i := range many {
		many[i] = Endpoint{Addr: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), 1), Inc: 1}
	}
	for name, m := range map[string]ctlMsg{
		"flushok with a blob over 16 KiB": {Type: mFlushOK, From: a, Data: make([]byte, maxBlob+1)},
		"flush with MaxMembers+1":         {Type: mFlush, From: a, Proposal: View{Members: many}, Survivors: []Endpoint{a}},
		"sync with a long vector":         {Type: mSync, From: a, Vector: make([]uint64, MaxMembers+1)},
		"probe with a short cookie":       {Type: mProbe, From: a, Cookie: []byte{1}},
		"merge request without cookies":   {Type: mMergeReq, From: a, Proposal: View{Members: []Endpoint{a}}},
		"probe padded too much":           {Type: mProbe, From: a, Pad: maxPad + 1},
		"suspect naming no one":           {Type: mSuspect, From: a},
	} {
		b, err := m.encode([]byte{9}, 5)
		if err == nil {
			t.Errorf("%s: encoded", name)
		}
		if len(b) != 1 {
			t.Errorf("%s: appended %d bytes on failure", name, len(b)-1)
		}
	}
	ok := ctlMsg{Type: mFlushOK, From: a, Data: make([]byte, maxBlob)}
	if _, err := ok.encode(nil, 5); err != nil {
		t.Errorf("a blob of exactly 16 KiB: %v", err)
	}
}

// hostileSeeds are control datagrams with values at and past every bound:
// counts of MaxMembers+1, blobs of maxBlob+1, 10-byte varints, padding
// that is not zero, cookies one byte short.
func hostileSeeds() [][]byte {
	head := func(typ msgType) []byte {
		b := append([]byte{Magic}, 0, 0, 0, 0, 0, 0, 0, 5, byte(typ))
		return append(b, 4, 127, 0, 0, 1, 0x1b, 0x58, 0, 0, 0, 1) // from 127.0.0.1:7000#1
	}
	viewID := []byte{9, 4, 127, 0, 0, 1, 0x1b, 0x58, 0, 0, 0, 1}
	varint10 := []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	return [][]byte{
		cat(head(mSuspect), viewID, wire.AppendUvarint(nil, MaxMembers+1)),
		cat(head(mFlush), viewID, viewID, wire.AppendUvarint(nil, MaxMembers+1)),
		cat(head(mSync), viewID, wire.AppendUvarint(nil, MaxMembers+1)),
		cat(head(mSync), viewID, []byte{1}, varint10, []byte{1, 0}),
		cat(head(mFlushOK), viewID, []byte{0}, wire.AppendUvarint(nil, maxBlob+1), make([]byte, 64)),
		cat(head(mFlushOK), viewID, varint10),
		cat(head(mFlushOK), viewID, []byte{0, 0, 0}), // a byte after the contribution
		cat(head(mInstall), viewID, []byte{0}),       // a byte after the round
		cat(head(mProbe), viewID, varint10, head(0)[10:]),
		cat(head(mProbe), viewID, []byte{1}, head(0)[10:], []byte{cookieLen - 1}, make([]byte, cookieLen-1), []byte{0, 0}),
		cat(head(mProbe), viewID, []byte{1}, head(0)[10:], []byte{0, 0}, wire.AppendUvarint(nil, maxPad+1)),
		cat(head(mProbe), viewID, []byte{1}, head(0)[10:], []byte{0, 0, 2, 0, 1}),
		cat(head(mMergeReq), viewID, viewID, wire.AppendUvarint(nil, MaxMembers+1)),
		cat(head(mMergeReq), viewID, viewID, []byte{1}, head(0)[10:], make([]byte, cookieLen-1)),
		cat(head(mSyncOK), viewID, varint10),
		cat(head(mRefused), []byte{5}, []byte("noise"), []byte{3}, []byte("key"), wire.AppendUvarint(nil, MaxRefusalReason+1), make([]byte, MaxRefusalReason+1)),
		cat(head(mRefused), []byte{5}, []byte("noise"), []byte{3}, []byte("key"), []byte{2, 0xc3, 0x28}), // not UTF-8
		cat(head(mRefused), []byte{0}, []byte{3}, []byte("key"), []byte{0}),                              // no provider
		cat(head(mRefused), []byte{5}, []byte("noise"), []byte{0}, []byte{0}),                            // no name
		cat(head(mRefused), []byte{5}, []byte("noise"), wire.AppendUvarint(nil, maxIdentityPart+1), make([]byte, maxIdentityPart+1), []byte{0}),
		cat(head(mRefused), []byte{5}, []byte("noise"), []byte{3}, []byte("key"), []byte{0, 0}), // a byte after the reason
	}
}

func TestControlRejectsHostileValues(t *testing.T) {
	for i, b := range hostileSeeds() {
		if m, err := decodeCtl(b, 5); err == nil {
			t.Errorf("seed %d accepted as %v", i, m.Type)
		}
	}
}

// FuzzDecodeControl checks that decoding never panics and that whatever is
// accepted re-encodes to exactly the same bytes.
func FuzzDecodeControl(f *testing.F) {
	for _, m := range sampleMessages() {
		b, _ := m.encode(nil, 5)
		f.Add(b)
	}
	for _, b := range hostileSeeds() {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeCtl(b, 5)
		if err != nil {
			return
		}
		if m.Type == mSealed {
			// A sealed envelope is encoded by sealing.seal, in this
			// layout.
			sm := m.Sealed
			again := appendEndpoint(append(wire.AppendUint64([]byte{Magic}, 5), byte(mSealed)), m.From)
			again = wire.AppendUvarint(wire.AppendUvarint(binary.BigEndian.AppendUint64(again, sm.view), sm.rank), sm.seq)
			again = append(wire.AppendUvarint(again, uint64(len(sm.inner))), sm.inner...)
			again = append(wire.AppendUvarint(again, uint64(len(sm.tag))), sm.tag...)
			if !bytes.Equal(again, b) {
				t.Fatalf("sealed %x re-encodes as %x", b, again)
			}
			return
		}
		if again, err := m.encode(nil, 5); err != nil || !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x", b, again)
		}
	})
}

// TestLargestControlDatagrams encodes each type at its largest: every list
// full of IPv6 endpoints, varints at their longest, blobs at 16 KiB. Each
// must fit MaxControlDatagram.
func TestLargestControlDatagrams(t *testing.T) {
	many := make([]Endpoint, MaxMembers)
	for i := range many {
		many[i] = Endpoint{Addr: netip.AddrPortFrom(netip.AddrFrom16([16]byte{0x20, 1, 14: byte(i >> 8), 15: byte(i)}), 65535), Inc: uint32(i)}
	}
	e := func(i int) Endpoint { return many[i] }
	id := ViewID{LTime: MaxLTime, Coord: e(1)}
	vec := make([]uint64, MaxMembers)
	for i := range vec {
		vec[i] = 1<<64 - 1
	}
	blob := make([]byte, maxBlob)
	ck := make([]byte, cookieLen)
	cks := make([][]byte, MaxMembers)
	for i := range cks {
		cks[i] = ck
	}
	s := Summary{ID: id, Size: MaxMembers, Coord: e(2)}
	largest := 0
	for _, m := range []ctlMsg{
		{Type: mProbe, From: e(0), Summary: s, Cookie: ck, Echo: ck, Pad: maxPad},
		{Type: mMergeReq, From: e(0), View: id, Proposal: View{ID: id, Members: many}, Cookies: cks},
		{Type: mFlush, From: e(0), View: id, Proposal: View{ID: id, Members: many}, Survivors: many},
		{Type: mFlushOK, From: e(0), Round: id, Vector: vec, Data: blob},
		{Type: mSync, From: e(0), Round: id, Vector: vec, Holders: vec, Summary: s},
		{Type: mInstall, From: e(0), Round: id},
		{Type: mSuspect, From: e(0), View: id, Suspects: many},
		{Type: mRefused, From: e(0), Peer: Identity{Provider: string(blob[:maxIdentityPart]), Name: string(blob[:maxIdentityPart])}, Data: blob[:MaxRefusalReason]},
	} {
		b, err := m.encode(nil, 1<<64-1)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		largest = max(largest, len(b))
	}
	t.Logf("largest control datagram: %d bytes", largest)
}

func TestControlTypeLooksInsideSealed(t *testing.T) {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	v := View{ID: ViewID{LTime: 9, Coord: a}, Members: []Endpoint{a}}
	inner, _ := (&ctlMsg{Type: mPrepare, From: a, Round: v.ID, Data: []byte("c")}).encode(nil, 5)
	if name, ok := ControlType(inner, 5); !ok || name != "Prepare" {
		t.Fatalf("plain: %q %v", name, ok)
	}
	sealed := newSealing(v, 0, macParticipant{key: "k"}.Authenticator(v, 0)).seal(5, a, inner, -1)
	if name, ok := ControlType(sealed, 5); !ok || name != "Prepare" {
		t.Fatalf("sealed: %q %v", name, ok)
	}
	if _, ok := ControlType(sealed, 6); ok {
		t.Fatal("another group's datagram named")
	}
	if _, ok := ControlType(sealed[:30], 5); ok {
		t.Fatal("a cut envelope named")
	}
}
