package membership

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/conclave-go/conclave/transport"
)

// pairParticipant's authenticators seal Pairwise messages as a
// PairSealer whose tags only their recipient opens: an HMAC under a key of
// the two ranks, over the sender's rank and the message. A Pairwise tag
// made without a recipient (Seal) opens nowhere, so that a reply that
// membership sealed without naming its recipient, or sent to another
// member than the one it named, is lost. tos counts the SealTo calls of
// each member.
type pairParticipant struct {
	signParticipant
	tos map[Endpoint]int
}

type pairAuth2 struct {
	signAuth
	self Endpoint
	tos  map[Endpoint]int
}

func (a pairAuth2) pairMAC(from, to int, msg []byte) []byte {
	lo, hi := min(from, to), max(from, to)
	h := hmac.New(sha256.New, append([]byte("pair"), append(a.view, byte(lo), byte(hi))...))
	h.Write([]byte{byte(from)})
	h.Write(msg)
	return h.Sum(nil)
}

func (a pairAuth2) Seal(dst, msg []byte, c Class) []byte {
	if c == Pairwise {
		return append(dst, "no recipient"...)
	}
	return a.signAuth.Seal(dst, msg, c)
}

func (a pairAuth2) SealTo(dst, msg []byte, to int) []byte {
	a.tos[a.self]++
	return append(dst, a.pairMAC(a.rank, to, msg)...)
}

func (a pairAuth2) Open(from int, msg, tag []byte, c Class) error {
	if c != Pairwise {
		return a.signAuth.Open(from, msg, tag, c)
	}
	if from == a.rank || !hmac.Equal(a.pairMAC(from, a.rank, msg), tag) {
		return errors.New("pair: not authentic")
	}
	return nil
}

func (p pairParticipant) Authenticator(v View, rank int) Authenticator {
	return pairAuth2{signAuth: signAuth{view: appendViewID(nil, v.ID), rank: rank}, self: v.Members[rank], tos: p.tos}
}

// TestPairwiseSealedForTheRecipient runs view changes (a crash, a rekey)
// with an authenticator whose Pairwise tags open only at the recipient
// they were sealed for: membership seals every reply for the member it
// sends it to, and the view changes complete.
func TestPairwiseSealedForTheRecipient(t *testing.T) {
	const n = 5
	tos := make(map[Endpoint]int)
	c := newCluster(t, 0, transport.Faults{})
	c.configure = func(_ int, cfg *Config) { cfg.Participant = pairParticipant{tos: tos} }
	for range n {
		c.add()
	}
	c.runUntil(5*time.Second, "one view of 5", func() bool { return c.converged(all(n)...) })
	v := c.members[0].view
	coord := c.memberFor(v.Members[0])
	victim := c.index(v.Members[n-1].Addr)
	var live []int
	for i := range n {
		if i != victim {
			live = append(live, i)
		}
	}
	clear(tos)
	c.crash(victim)
	coord.Suspect(v.Members[n-1])
	c.drain(c.index(coord.self.Addr))
	c.runUntil(2*time.Second, "the survivors' view", func() bool { return c.converged(live...) && len(coord.view.Members) == n-1 })
	w := coord.view
	coord.Rekey()
	c.runUntil(2*time.Second, "a rekey", func() bool { return c.converged(live...) && coord.view.ID != w.ID })
	for _, e := range w.Members[1:] {
		if tos[e] == 0 {
			t.Errorf("%v sealed no reply for its recipient", e)
		}
	}
	if f := coord.counters["drop.forged_control"]; f != 0 {
		t.Errorf("the coordinator dropped %d control messages as forged", f)
	}
}
