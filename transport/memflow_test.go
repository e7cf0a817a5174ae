package transport

import (
	"bytes"
	"net/netip"
	"testing"
	"time"
)

func TestMemOversizeDropped(t *testing.T) {
	n := NewNetwork(1, Faults{})
	n.Send(0, Addr(0), Addr(1), make([]byte, MaxDatagram))
	n.Send(0, Addr(0), Addr(1), make([]byte, MaxDatagram+1))
	n.SetMaxDatagram(1400)
	n.Send(0, Addr(0), Addr(1), make([]byte, 1400))
	n.Send(0, Addr(0), Addr(1), make([]byte, 1401))
	got := n.Due(time.Second, nil)
	if len(got) != 2 || len(got[0].Data) != MaxDatagram || len(got[1].Data) != 1400 {
		t.Fatalf("delivered %d datagrams", len(got))
	}
	if s := n.Stats(); s.Oversize != 2 || s.Sent != 4 || s.Delivered != 2 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMemConnOversizeDropped(t *testing.T) {
	n := NewNetwork(1, Faults{})
	n.SetMaxDatagram(100)
	a := n.Endpoint(Addr(0), func() time.Duration { return 0 })
	b := n.Endpoint(Addr(1), func() time.Duration { return 0 })
	defer a.Close()
	defer b.Close()
	if _, err := a.WriteBatch([]Outgoing{{To: Addr(1), Data: make([]byte, 101)}, {To: Addr(1), Data: []byte("ok")}}); err != nil {
		t.Fatal(err)
	}
	in := make([]Incoming, 4)
	k, err := b.ReadBatch(in)
	if err != nil || k != 1 || !bytes.Equal(in[0].Data, []byte("ok")) {
		t.Fatalf("read %d, %v", k, err)
	}
	if s := n.Stats(); s.Oversize != 1 {
		t.Fatalf("stats %+v", s)
	}
}

func TestMemFlows(t *testing.T) {
	n := NewNetwork(1, Faults{})
	n.Send(0, Addr(0), Addr(1), []byte("before"))
	n.KeepFlows()
	n.Send(0, Addr(0), Addr(1), []byte("abc"))
	n.Send(0, Addr(0), Addr(1), []byte("de"))
	n.Send(0, Addr(1), Addr(0), []byte("f"))
	n.Detach(Addr(2))
	n.Send(0, Addr(0), Addr(2), []byte("lost"))
	n.Due(time.Second, nil)
	if f := n.Flow(Addr(0), Addr(1)); f != (Flow{Sent: 2, SentBytes: 5, Delivered: 3, DeliveredBytes: 11}) {
		// The datagram sent before KeepFlows is counted only as delivered.
		t.Fatalf("flow 0→1 %+v", f)
	}
	if f := n.Flow(Addr(0), Addr(2)); f != (Flow{Sent: 1, SentBytes: 4}) {
		t.Fatalf("flow 0→2 %+v", f)
	}
	var pairs [][2]netip.AddrPort
	n.Flows(func(from, to netip.AddrPort, f Flow) { pairs = append(pairs, [2]netip.AddrPort{from, to}) })
	want := [][2]netip.AddrPort{{Addr(0), Addr(1)}, {Addr(0), Addr(2)}, {Addr(1), Addr(0)}}
	if len(pairs) != len(want) {
		t.Fatalf("flows %v", pairs)
	}
	for i := range want {
		if pairs[i] != want[i] {
			t.Fatalf("flows %v, want %v", pairs, want)
		}
	}
}
