package secure

import (
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// A member that has processed the decision of a view it has not installed
// yet seals and opens Change control messages under that view (membership
// ends a round under it), the committer as well as the others; Routine
// ones only where the epoch's secrets are the member's (not the
// committer's pending commit); nobody before processing, and nobody once
// the decision is discarded.
func TestAuthenticatorOfProcessedView(t *testing.T) {
	c := newCluster(t)
	c.form(3)
	cur := c.members[0].View()
	dec := c.parts[c.index(cur.Members[0].Addr)].Participant
	p1 := c.parts[c.index(cur.Members[1].Addr)].Participant
	p2 := c.parts[c.index(cur.Members[2].Addr)].Participant
	next := cur.Clone()
	next.ID.LTime += 10
	d, err := dec.Decide(cur, next, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("a control message of the next view")
	for _, p := range []*Participant{dec, p1, p2} {
		if _, err := p.Process(next, d.Common, nil); err != nil {
			t.Fatal(err)
		}
	}
	a0, a1, a2 := dec.Authenticator(next, 0), p1.Authenticator(next, 1), p2.Authenticator(next, 2)
	if err := a0.Open(1, msg, a1.Seal(nil, msg, membership.Change), membership.Change); err != nil {
		t.Fatalf("the committer does not open a member's Change message under the processed view: %v", err)
	}
	if err := a1.Open(0, msg, a0.Seal(nil, msg, membership.Change), membership.Change); err != nil {
		t.Fatalf("a member does not open the committer's Change message under the processed view: %v", err)
	}
	if a2.Open(0, msg, a1.Seal(nil, msg, membership.Change), membership.Change) == nil {
		t.Fatal("a Change message opened as another member's")
	}
	if err := a2.Open(1, msg, a1.Seal(nil, msg, membership.Routine), membership.Routine); err != nil {
		t.Fatalf("a Routine message of the processed view does not open: %v", err)
	}
	if a0.Open(1, msg, a1.Seal(nil, msg, membership.Routine), membership.Routine) == nil || len(a0.Seal(nil, msg, membership.Routine)) != 0 {
		t.Fatal("the committer seals or opens Routine messages before its commit is installed")
	}
	// The current view's authenticator still works beside it.
	now := p1.Authenticator(cur, 1)
	if err := dec.Authenticator(cur, 0).Open(1, msg, now.Seal(nil, msg, membership.Change), membership.Change); err != nil {
		t.Fatalf("the installed view's authenticator stopped working: %v", err)
	}
	tag := a2.Seal(nil, msg, membership.Change)
	p1.Discard(next)
	if a1.Open(2, msg, tag, membership.Change) == nil {
		t.Fatal("an authenticator of a discarded decision still opens")
	}
	if aa, ok := a1.(*authenticator); !ok || !aa.dead || len(aa.key) != 0 && !allZero(aa.key) {
		t.Fatal("an authenticator of a discarded decision keeps its key")
	}
	if late := p1.Authenticator(next, 1); late.Open(2, msg, tag, membership.Change) == nil {
		t.Fatal("an authenticator of a view whose decision was discarded opens a message")
	}
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
