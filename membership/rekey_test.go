package membership

import (
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// statsParticipant records what the coordinator's RekeyDue was told.
type statsParticipant struct {
	plain
	asked *[]ViewStats
}

func (p statsParticipant) RekeyDue(_ View, s ViewStats) bool {
	*p.asked = append(*p.asked, s)
	return false
}

// TestRekeyDueSeesTheViewsStats checks what a Rekeyer is told on each
// tick: the age of the view at the coordinator, and the messages and
// bytes it delivered in it, from nothing when the view is installed.
func TestRekeyDueSeesTheViewsStats(t *testing.T) {
	var asked []ViewStats
	installed := map[int]time.Duration{} // by member: when it last installed a view, on its clock
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(i int, cfg *Config) {
		cfg.Participant = statsParticipant{asked: &asked}
		cfg.Trace = func(tr Trace) {
			if !tr.Consent && i < len(c.members) {
				installed[i] = c.members[i].now
			}
		}
	}
	for range 3 {
		c.add()
	}
	c.runUntil(3*time.Second, "one view of 3", func() bool { return c.converged(all(3)...) })
	coord := c.memberFor(c.members[0].view.Members[0])
	ci := c.index(coord.self.Addr)
	c.run(10 * time.Millisecond)
	asked = asked[:0]
	c.run(time.Millisecond)
	if len(asked) == 0 {
		t.Fatal("RekeyDue was not asked")
	}
	if s := asked[len(asked)-1]; s.Messages != 0 || s.Bytes != 0 || s.Age != c.now-installed[ci] {
		t.Fatalf("an idle view: %+v, installed %v ago", s, c.now-installed[ci])
	}
	for i, m := range c.members {
		m.Cast(make([]byte, 100+i))
		c.drain(i)
	}
	c.run(20 * time.Millisecond)
	asked = asked[:0]
	c.run(time.Millisecond)
	want := ViewStats{Messages: 3, Bytes: 100 + 101 + 102}
	if s := asked[len(asked)-1]; s.Messages != want.Messages || s.Bytes != want.Bytes {
		t.Fatalf("after three multicasts of 303 bytes in all: %+v", s)
	}
	// A new view starts from nothing.
	v := coord.view
	coord.Rekey()
	c.runUntil(time.Second, "a rekey", func() bool { return c.members[0].view.ID != v.ID && c.converged(all(3)...) })
	asked = asked[:0]
	c.run(time.Millisecond)
	if s := asked[len(asked)-1]; s.Messages != 0 || s.Bytes != 0 || s.Age != c.now-installed[ci] {
		t.Fatalf("a view just installed: %+v, installed %v ago", s, c.now-installed[ci])
	}
}
