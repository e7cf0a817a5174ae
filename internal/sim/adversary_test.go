package sim

import (
	"bytes"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/hostile"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/transport"
)

// TestAdversarySweep runs seeds under attack: the group must come through
// every check, the attacks must have reached the members (they dropped
// hostile datagrams by reason), and a seed must replay exactly.
func TestAdversarySweep(t *testing.T) {
	cases := []Config{
		{Members: 3, Messages: 40, Sends: 10, Faults: Faults{Loss: 0.2, Duplicate: 0.1, Reorder: 0.1, Delay: 5 * time.Millisecond}},
		{Members: 4, Messages: 40, Sends: 10, Faults: Faults{Loss: 0.2, Crash: true, Partition: true, Join: true, Leave: true}},
		{Members: 4, Messages: 40, Sends: 10, Faults: Faults{Loss: 0.1, Crash: true, Join: true}, Total: true},
	}
	drops := map[string]uint64{}
	for i, cfg := range cases {
		for seed := range uint64(2) {
			cfg.Seed, cfg.Attackers = 100+seed, true
			res, err := Run(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.OK() {
				t.Fatalf("case %d seed %d: %v", i, cfg.Seed, res.Violations)
			}
			if res.Attacks < 200 {
				t.Fatalf("case %d seed %d: only %d attacks", i, cfg.Seed, res.Attacks)
			}
			for _, m := range res.Members {
				for _, c := range m.Counters {
					if strings.HasPrefix(c.Name, "drop.") {
						drops[c.Layer+" "+c.Name] += c.Value
					}
				}
			}
		}
	}
	for _, want := range []string{"bottom drop.too_large", "mnak drop.window", "mnak drop.malformed", "pt2pt drop.window", "bundle drop.malformed", "membership drop.not_member", "membership drop.forged_control"} {
		if drops[want] == 0 {
			t.Errorf("no %q: the attacks did not reach that far (drops: %v)", want, drops)
		}
	}
	cfg := cases[1]
	cfg.Seed, cfg.Attackers = 7, true
	a, _ := Run(cfg)
	b, _ := Run(cfg)
	if a.Trace != b.Trace || a.Attacks != b.Attacks {
		t.Fatalf("a seed under attack does not replay: traces %x and %x", a.Trace, b.Trace)
	}
}

// attackedRun is a run with the adversary and n members started, for
// driving its checks by hand.
func attackedRun(t *testing.T, n int) *run {
	r := newRun(Config{Seed: 1, Members: n, Attackers: true}.WithDefaults(), nil)
	for range n {
		r.seeds = append(r.seeds, transport.Addr(len(r.seeds)))
	}
	for range n {
		r.start(r.newAddr(), true)
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r
}

func wantViolation(t *testing.T, r *run, prefix string) {
	t.Helper()
	for _, v := range r.checker.Violations() {
		if strings.HasPrefix(v, prefix) {
			return
		}
	}
	t.Fatalf("no violation %q among %q", prefix, r.checker.Violations())
}

func TestAdversaryReportsPanic(t *testing.T) {
	r := attackedRun(t, 2)
	r.procs[0].m = nil // any input now panics
	r.input(0, inTick, netip.AddrPort{}, nil)
	wantViolation(t, r, "panic: member 0 in Tick")
	if r.procs[0].state != StateCrashed {
		t.Fatalf("member 0 is %v after its panic", r.procs[0].state)
	}
	r.tick() // the crashed member is no longer driven
}

func TestAdversaryReportsThirdAddress(t *testing.T) {
	r := attackedRun(t, 2)
	r.watch(1, r.procs[0].self.Addr, []byte{1})
	if r.checker.Count() != 0 {
		t.Fatalf("a datagram to a member reported: %v", r.checker.Violations())
	}
	r.watch(1, thirdAddr(2), []byte{1})
	wantViolation(t, r, "third address: member 1 sent a 1-byte datagram to 192.0.2.3:7000")
}

func TestAdversaryReportsAmplification(t *testing.T) {
	r := attackedRun(t, 2)
	s, m := strangerAddr(0), r.procs[1].self.Addr
	r.adv.spoke[s] = true
	r.net.Send(0, s, m, make([]byte, 10))
	r.net.Due(time.Second, nil)
	r.net.Send(0, m, s, make([]byte, 30))
	r.watch(1, s, make([]byte, 30))
	if r.checker.Count() != 0 {
		t.Fatalf("3x reported: %v", r.checker.Violations())
	}
	r.net.Send(0, m, s, make([]byte, 1))
	r.watch(1, s, make([]byte, 1))
	wantViolation(t, r, "amplification: member 1 sent 31 bytes to stranger 10.66.0.1:7000, which had sent it 10")
}

func TestAdversaryReportsRetransmissions(t *testing.T) {
	r := attackedRun(t, 2)
	d := hostile.Header{Group: group, View: 5, Sender: 1, Type: layers.ESendUnrel}.Append(nil)
	d = hostile.MnakRetrans(d, 1, 9, hostile.Minimal, []byte{0, 'x'})
	to := r.procs[0].self.Addr
	r.now = time.Second
	r.watch(1, to, d)
	r.now += 3 * time.Millisecond
	r.watch(1, to, bytes.Clone(d))
	r.now += 2 * time.Millisecond // 5ms after the first: only two within 4ms
	r.watch(1, to, bytes.Clone(d))
	if r.checker.Count() != 0 {
		t.Fatalf("retransmissions once per interval reported: %v", r.checker.Violations())
	}
	r.watch(1, to, bytes.Clone(d))
	wantViolation(t, r, "retransmission: member 1 retransmitted cast #9 of rank 1 to 127.0.0.1:10000 3 times within 4ms")
}

func TestAdversaryReportsFootprintOverrun(t *testing.T) {
	r := attackedRun(t, 2)
	r.checkFootprints()
	if r.checker.Count() != 0 {
		t.Fatalf("real footprints over their bounds: %v", r.checker.Violations())
	}
	r.adv.footprints = func(p int) (int, int, int, int) { return 10, 10, 3 + p, 3 }
	r.checkFootprints()
	wantViolation(t, r, "memory: member 1's membership state holds 4 entries, over its bound of 3")
	r.adv.footprints = func(p int) (int, int, int, int) { return 11, 10, 0, 3 }
	r.checkFootprints()
	wantViolation(t, r, "memory: member 0's stack holds 11 bytes, over its bound of 10")
}
