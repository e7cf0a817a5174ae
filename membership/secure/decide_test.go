package secure

import (
	"errors"
	"slices"
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// A joiner the decider cannot accept is named in a membership.JoinerError,
// so that membership retries without it alone and holds nothing against
// the decider; a coordinator's malformed contribution blames no joiner.
func TestDecideNamesTheJoinersItRefuses(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	j := c.add(true)
	cur := c.members[0].View()
	dec := c.parts[c.index(cur.Members[0].Addr)].Participant
	next := cur.Clone()
	next.ID.LTime += 10
	next.Members = append(next.Members, c.members[j].Self())
	kp, _, err := c.parts[j].newKeyPackage()
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := kp.Bytes()
	contributions := map[membership.Endpoint][]byte{c.members[j].Self(): kb}
	_, err = dec.Decide(cur, next, contributions, nil)
	var je *membership.JoinerError
	if !errors.As(err, &je) || !slices.Equal(je.Joiners, []membership.Endpoint{c.members[j].Self()}) {
		t.Fatalf("a joiner without a roster entry: %v, want a JoinerError naming %v", err, c.members[j].Self())
	}
	contributions[next.ID.Coord] = []byte{1}
	if _, err := dec.Decide(cur, next, contributions, nil); err == nil || errors.As(err, &je) {
		t.Fatalf("a malformed coordinator contribution: %v, want an error blaming no joiner", err)
	}
}
