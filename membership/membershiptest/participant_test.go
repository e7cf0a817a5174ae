package membershiptest

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/conclave-go/conclave/membership"
)

func ep(i int) membership.Endpoint {
	return membership.Endpoint{Addr: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), uint16(7000+i)), Inc: uint32(i)}
}

func pair(t *testing.T, nonce []byte) (j, c membership.Handshake) {
	pj := &Participant{PSK: []byte("k"), Name: "joiner"}
	pc := &Participant{PSK: []byte("k"), Name: "coord"}
	pj.Start(ep(1))
	pc.Start(ep(0))
	j, _ = pj.Handshake(true, ep(1), ep(0), nonce)
	c, _ = pc.Handshake(false, ep(0), ep(1), nonce)
	return j, c
}

func TestHandshakeThreeMessages(t *testing.T) {
	j, c := pair(t, []byte("nonce one"))
	m1, done, err := j.Create()
	if err != nil || done {
		t.Fatal(done, err)
	}
	if done, err := c.Consume(m1); err != nil || done {
		t.Fatal(done, err)
	}
	m2, done, err := c.Create()
	if err != nil || done {
		t.Fatal(done, err)
	}
	if done, err := j.Consume(m2); err != nil || done {
		t.Fatal(done, err)
	}
	m3, done, err := j.Create()
	if err != nil || !done {
		t.Fatal(done, err)
	}
	if done, err := c.Consume(m3); err != nil || !done {
		t.Fatal(done, err)
	}
	idJ, sJ := j.Result()
	idC, sC := c.Result()
	if idJ.Name != "coord" || idC.Name != "joiner" || len(sJ) < 32 || !bytes.Equal(sJ, sC) {
		t.Fatalf("identities %v %v, secrets equal %v", idJ, idC, bytes.Equal(sJ, sC))
	}
}

// TestHandshakeBindsNonce replays the messages of one attempt into another
// with a different nonce: the answer to the replayed first message fails.
func TestHandshakeBindsNonce(t *testing.T) {
	j1, _ := pair(t, []byte("nonce one"))
	m1, _, _ := j1.Create()
	j2, c2 := pair(t, []byte("nonce two"))
	j2.Create()
	c2.Consume(m1) // the old attempt's first message
	m2, _, _ := c2.Create()
	if _, err := j2.Consume(m2); err == nil {
		t.Fatal("an answer built on another attempt's message was accepted")
	}
}

func TestDecisionEachMemberItsPart(t *testing.T) {
	next := membership.View{ID: membership.ViewID{LTime: 3, Coord: ep(0)}, Members: []membership.Endpoint{ep(0), ep(1), ep(2)}}
	ps := make([]*Participant, 3)
	for i := range ps {
		ps[i] = &Participant{PSK: []byte("k"), Name: "m"}
		ps[i].Start(ep(i))
	}
	d, err := ps[0].Decide(membership.View{}, next, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range ps {
		conf, err := p.Process(next, d.Common, d.Parts[ep(i)])
		if err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
		if err := ps[0].Verify(next, d.Common, ep(i), conf); err != nil {
			t.Fatalf("member %d's confirmation: %v", i, err)
		}
		if _, err := p.Install(next); err != nil {
			t.Fatal(err)
		}
	}
	e0, _ := ps[0].Epoch(next.ID)
	for i, p := range ps {
		if e, ok := p.Epoch(next.ID); !ok || e != e0 {
			t.Fatalf("member %d installed another secret", i)
		}
	}
	// Another member's part does not open.
	q := &Participant{PSK: []byte("k")}
	q.Start(ep(1))
	if _, err := q.Process(next, d.Common, d.Parts[ep(2)]); err == nil {
		t.Fatal("member 1 processed member 2's part")
	}
}

func TestDeciderOfAViewWithoutMembersIsNobody(t *testing.T) {
	for _, delegate := range []bool{false, true} {
		p := &Participant{Delegate: delegate}
		if d := p.Decider(membership.View{}, membership.View{}); !d.IsZero() {
			t.Fatalf("delegate %v: decider %v of an empty view", delegate, d)
		}
	}
}

// TestAuthenticatorOfProcessedView: a member that processed a decision
// seals under its view what another member that processed it opens, with
// the same key as once installed; before processing, it holds a key of
// no secret, which opens nothing the others seal.
func TestAuthenticatorOfProcessedView(t *testing.T) {
	next := membership.View{ID: membership.ViewID{LTime: 3, Coord: ep(0)}, Members: []membership.Endpoint{ep(0), ep(1)}}
	var ps []*Participant
	for i := range 2 {
		p := &Participant{PSK: []byte("k"), Name: "m", Self: ep(i), Rand: bytes.NewReader(bytes.Repeat([]byte{7}, 64))}
		p.Start(ep(i))
		ps = append(ps, p)
	}
	d, err := ps[0].Decide(next, next, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	msg := []byte("Install")
	before := ps[1].Authenticator(next, 1).Seal(nil, msg, membership.Change)
	for i, p := range ps {
		if _, err := p.Process(next, d.Common, d.Parts[ep(i)]); err != nil {
			t.Fatal(err)
		}
	}
	a0, a1 := ps[0].Authenticator(next, 0), ps[1].Authenticator(next, 1)
	tag := a1.Seal(nil, msg, membership.Change)
	if err := a0.Open(1, msg, tag, membership.Change); err != nil {
		t.Fatalf("a message sealed under a processed view does not open: %v", err)
	}
	if a0.Open(1, msg, before, membership.Change) == nil {
		t.Fatal("a tag made before processing opens under the processed view")
	}
	if _, err := ps[0].Install(next); err != nil {
		t.Fatal(err)
	}
	if err := ps[0].Authenticator(next, 0).Open(1, msg, tag, membership.Change); err != nil {
		t.Fatalf("the installed view's authenticator differs from the processed one's: %v", err)
	}
}
