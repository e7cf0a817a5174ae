package membership

import (
	"bytes"
	"net/netip"
	"testing"
)

func sampleMessages() []ctlMsg {
	a := Endpoint{Addr: netip.MustParseAddrPort("127.0.0.1:7000"), Inc: 1}
	b := Endpoint{Addr: netip.MustParseAddrPort("[::1]:7001"), Inc: 0xdeadbeef}
	v := View{ID: ViewID{LTime: 9, Coord: a}, Members: []Endpoint{a, b}}
	s := Summary{ID: v.ID, Size: 2, Coord: a}
	return []ctlMsg{
		{Type: mProbe, From: a, Summary: s},
		{Type: mProbeReply, From: b, Summary: s},
		{Type: mMergeReq, From: a, View: v.ID, Proposal: v},
		{Type: mFlush, From: a, View: v.ID, Proposal: v, Survivors: []Endpoint{a}},
		{Type: mFlushOK, From: b, Round: v.ID, Vector: []uint64{3, 1 << 40}, Hello: []byte("hi"), Data: []byte{1, 2}},
		{Type: mSync, From: a, Round: v.ID, Vector: []uint64{3, 4}, Holders: []uint64{0, 1}, Summary: s},
		{Type: mSyncOK, From: b, Round: v.ID},
		{Type: mInstall, From: a, Round: v.ID, Data: []byte("decided")},
		{Type: mInstallAck, From: b, Round: v.ID},
		{Type: mSuspect, From: b, View: v.ID, Suspects: []Endpoint{a}},
		{Type: mLeave, From: b, View: v.ID},
		{Type: mWait, From: b, Round: v.ID},
		{Type: mDismiss, From: a, Round: v.ID},
	}
}

func TestControlRoundTrip(t *testing.T) {
	for _, m := range sampleMessages() {
		b := m.encode(nil, 5)
		got, err := decodeCtl(b, 5)
		if err != nil {
			t.Fatalf("%v: %v", m.Type, err)
		}
		if again := got.encode(nil, 5); !bytes.Equal(again, b) {
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
	if _, err := decodeCtl(m.encode(nil, 1), 1); err == nil {
		t.Fatal("accepted a view listing a member twice")
	}
}

// FuzzDecodeControl checks that decoding never panics and that whatever is
// accepted re-encodes to exactly the same bytes.
func FuzzDecodeControl(f *testing.F) {
	for _, m := range sampleMessages() {
		f.Add(m.encode(nil, 5))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeCtl(b, 5)
		if err != nil {
			return
		}
		if again := m.encode(nil, 5); !bytes.Equal(again, b) {
			t.Fatalf("%x re-encodes as %x", b, again)
		}
	})
}
