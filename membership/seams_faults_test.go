package membership_test

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"testing"
	"time"

	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/membership/membershiptest"
	"github.com/conclave-go/conclave/transport"
)

// TestParticipantUnderFaults runs groups with the test participant over a
// lossy, duplicating, reordering network, with a crash, a rekey and a
// partition drawn from each seed, decisions delegated or not, handshake
// messages and decisions small or in fragments: the survivors must end in
// one view in which every member installed the same decision.
func TestParticipantUnderFaults(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			g := &group{t: t, net: transport.NewNetwork(seed, transport.Faults{Loss: 0.12, Duplicate: 0.02, Reorder: 0.05, Delay: time.Millisecond})}
			n := 3 + rng.IntN(6)
			delegate, pad := rng.IntN(2) == 0, rng.IntN(2)*(50<<10)
			g.configure = func(_ int, p *membershiptest.Participant, _ *membership.Config) {
				p.Delegate, p.HandshakePad, p.PartPad = delegate, pad, pad
			}
			for range n {
				g.add()
			}
			g.runUntil(10*time.Second, "one view", func() bool { return g.converged(upTo(n)...) })
			live := upTo(n)
			if rng.IntN(2) == 0 {
				v := live[rng.IntN(n)]
				g.crash(v)
				live = append(live[:v:v], live[v+1:]...)
			}
			g.members[live[rng.IntN(len(live))]].Rekey()
			g.run(time.Duration(rng.IntN(50)) * time.Millisecond)
			if rng.IntN(2) == 0 {
				half := len(live) / 2
				var a, b []netip.AddrPort
				for i, m := range live {
					if i < half {
						a = append(a, transport.Addr(m))
					} else {
						b = append(b, transport.Addr(m))
					}
				}
				g.net.Partition(a, b)
				g.run(time.Duration(200+rng.IntN(400)) * time.Millisecond)
				g.net.Heal()
			}
			g.runUntil(20*time.Second, "the survivors in one view", func() bool { return g.converged(live...) })
			g.sameEpoch(live...)
		})
	}
}
