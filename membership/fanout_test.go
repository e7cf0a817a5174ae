package membership

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// countingParticipant signs as signParticipant does and counts, by
// member, the Change messages each sealed.
type countingParticipant struct {
	signParticipant
	seals map[Endpoint]int
}

type countingAuth struct {
	signAuth
	self  Endpoint
	seals map[Endpoint]int
}

func (a countingAuth) Seal(dst, msg []byte, c Class) []byte {
	if c == Change {
		a.seals[a.self]++
	}
	return a.signAuth.Seal(dst, msg, c)
}

func (p countingParticipant) Authenticator(v View, rank int) Authenticator {
	return countingAuth{signAuth: signAuth{view: appendViewID(nil, v.ID), rank: rank}, self: v.Members[rank], seals: p.seals}
}

// TestCoordinatorSealsEachMessageOnce crashes a member of 12 and checks
// that the coordinator seals each of the round's messages to the
// survivors once, not once per survivor: each Flush, Sync, Prepare and
// Install reaches every survivor as the same datagram, and the
// coordinator's Change seals are far fewer than the messages it sent.
func TestCoordinatorSealsEachMessageOnce(t *testing.T) {
	const n = 12
	seals := make(map[Endpoint]int)
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = countingParticipant{seals: seals} }
	for range n {
		c.add()
	}
	c.runUntil(5*time.Second, "one view of 12", func() bool { return c.converged(all(n)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	victim := c.index(v.Members[n-1].Addr)
	var live []int
	for i := range n {
		if i != victim {
			live = append(live, i)
		}
	}
	c.crash(victim)
	sent := c.record()
	clear(seals)
	before := make(map[string]uint64)
	for _, typ := range []string{"Flush", "Sync", "Prepare", "Install"} {
		before[typ] = coord.counters["sent."+typ]
	}
	coord.Suspect(v.Members[n-1])
	c.drain(c.index(coord.self.Addr))
	c.runUntil(2*time.Second, "the survivors' view", func() bool { return c.converged(live...) })

	var messages uint64
	for typ, b := range before {
		got := coord.counters["sent."+typ] - b
		if got < n-2 {
			t.Fatalf("the coordinator sent %d %s, want one to each of the %d other survivors", got, typ, n-2)
		}
		messages += got
	}
	if s := seals[coord.self]; s*4 > int(messages) {
		t.Fatalf("the coordinator sealed %d Change messages for the %d it sent in the round: one seal per destination", s, messages)
	}
	// Each message goes to every survivor as the same bytes.
	copies := make(map[string]map[string]int)
	for _, p := range *sent {
		if p.from != coord.self.Addr {
			continue
		}
		if name, ok := ControlType(p.data, 42); ok {
			if copies[name] == nil {
				copies[name] = make(map[string]int)
			}
			copies[name][string(p.data)]++
		}
	}
	for _, typ := range []string{"Flush", "Sync", "Prepare", "Install"} {
		most := 0
		for _, k := range copies[typ] {
			most = max(most, k)
		}
		if most < n-2 {
			t.Errorf("at most %d survivors got the same %s datagram, want all %d others: sealed once per destination", most, typ, n-2)
		}
	}
}
