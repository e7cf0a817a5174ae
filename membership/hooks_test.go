package membership

import (
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// ballot is a trivial participant: it keeps out joiners whose hello is
// "evil", has every member contribute a number, holds each installation
// for a few ticks, and has the coordinator decide the sum, which every
// member records when it installs the view. It stands in for the key
// agreement layer.
type ballot struct {
	self      int
	holdTicks int
	held      int
	installed map[ViewID]uint64 // decided value per view installed
	admitted  []string
}

func (b *ballot) Admit(joiner Endpoint, hello []byte) error {
	if string(hello) == "evil" {
		return errors.New("not welcome")
	}
	b.admitted = append(b.admitted, string(hello))
	return nil
}

func (b *ballot) Contribute(next View) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(b.self+1))
}

func (b *ballot) Decide(next View, contributions map[Endpoint][]byte) ([]byte, error) {
	if b.held < b.holdTicks {
		b.held++
		return nil, ErrHold
	}
	b.held = 0
	var sum uint64
	for _, e := range next.Members {
		c, ok := contributions[e]
		if !ok || len(c) != 8 {
			return nil, fmt.Errorf("no contribution from %v", e)
		}
		sum += binary.BigEndian.Uint64(c)
	}
	return binary.BigEndian.AppendUint64(nil, sum), nil
}

func (b *ballot) Install(next View, decided []byte) {
	if len(decided) == 8 {
		b.installed[next.ID] = binary.BigEndian.Uint64(decided)
	} else {
		b.installed[next.ID] = 0 // a view made without a decision (alone)
	}
}

func TestParticipantTakesPartInViewChanges(t *testing.T) {
	ballots := map[int]*ballot{}
	c := &cluster{t: t, net: transport.NewNetwork(3, transport.Faults{}), timing: testTiming}
	c.configure = func(i int, cfg *Config) {
		b := &ballot{self: i, holdTicks: 3, installed: map[ViewID]uint64{}}
		ballots[i] = b
		cfg.Participant = b
		cfg.Hello = []byte(fmt.Sprintf("member %d", i))
		if i == 3 {
			cfg.Hello = []byte("evil")
		}
	}
	for range 3 {
		c.add()
	}
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(0, 1, 2) })
	c.add() // the evil one
	c.run(time.Second)
	if !c.converged(0, 1, 2) || c.members[3].view.Has(c.members[0].self) {
		t.Fatalf("the vetoed member got in: %s", c.describe())
	}
	v := c.members[0].view
	want := ballots[0].installed[v.ID]
	if want != 1+2+3 {
		t.Fatalf("decided %d for %v, want the sum of the members' contributions, 6", want, v.ID)
	}
	for i := range 3 {
		if got := ballots[i].installed[v.ID]; got != want {
			t.Fatalf("member %d installed %v with %d, member 0 with %d", i, v.ID, got, want)
		}
	}
	if c.members[0].counters["decide_held"] == 0 && c.members[1].counters["decide_held"] == 0 && c.members[2].counters["decide_held"] == 0 {
		t.Fatal("no installation was held")
	}
	vetoes := 0
	for i := range 3 {
		vetoes += int(c.members[i].counters["joiners_vetoed"])
	}
	if vetoes == 0 {
		t.Fatal("the evil joiner was never vetoed")
	}
}

// TestJoinFloodAndDyingJoiner has many processes try to join at once, one
// of which dies in the middle of joining: the group must take in the live
// ones, stay free of the dead one, and keep no state about it.
func TestJoinFloodAndDyingJoiner(t *testing.T) {
	c := newCluster(t, 3, transport.Faults{})
	c.runUntil(2*time.Second, "one view of 3", func() bool { return c.converged(0, 1, 2) })
	for range 20 {
		c.add()
	}
	// The last joiner dies as soon as it has asked to be merged in.
	dying := len(c.members) - 1
	c.runUntil(time.Second, "the dying joiner asks to join", func() bool {
		return c.members[dying].counters["sent.MergeReq"] > 0
	})
	c.crash(dying)
	live := all(dying)
	c.runUntil(5*time.Second, "every live process in one view", func() bool { return c.converged(live...) })
	v := c.members[0].view
	if v.Has(c.members[dying].self) {
		t.Fatalf("the dead joiner is in %v", v)
	}
	c.run(time.Second) // let any request left behind expire
	coord := c.memberFor(v.Coordinator())
	if len(coord.merges) != 0 || coord.coord != nil {
		t.Fatalf("coordinator still holds %d merge requests, round %v", len(coord.merges), coord.coord)
	}
	if !c.converged(live...) {
		t.Fatalf("the group moved on: %s", c.describe())
	}
}
