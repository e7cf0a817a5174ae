package encrypt

import "testing"

// A datagram sealed by one member and opened by another allocates
// nothing once the stacks are warm: the packet buffers come from the
// stack's pool and return to it, whole, at Advance.
func TestDatagramAllocatesNothing(t *testing.T) {
	ms := group(t, 2, Config{})
	payload := make([]byte, 64)
	step := func() {
		ms[0].s.Cast(payload)
		d := ms[0].s.Ready().Packets
		if len(d) != 1 || !ms[1].s.Receive(d[0].Data) || len(ms[1].s.Ready().Deliveries) != 1 {
			t.Fatal("datagram lost")
		}
		ms[0].s.Advance()
		ms[1].s.Advance()
	}
	step()
	if n := testing.AllocsPerRun(100, step); n != 0 {
		t.Fatalf("%.1f allocations per datagram", n)
	}
}
