package pt2pt_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
)

// refuser stands for the private layer above pt2pt: it numbers each
// peer's messages as they come up, and refuses one whose body starts with
// "forged"; "bogus:" makes it refuse a number other than the message's.
type refuser struct {
	p    *layers.Port
	next []uint64
}

func init() {
	layers.Register(layers.Registration{
		Name: "sendrefuser",
		Doc:  "test: refuses the point-to-point messages marked forged",
		New:  func(any) (layers.Layer, error) { return &refuser{}, nil },
	})
}

func (r *refuser) Name() string           { return "sendrefuser" }
func (r *refuser) Init(p *layers.Port)    { r.p, r.next = p, make([]uint64, p.View().N) }
func (r *refuser) Down(ev *layers.Event)  { r.p.Down(ev) }
func (r *refuser) Tick(now time.Duration) {}

func (r *refuser) refuse(peer int, seq uint64) {
	ev := r.p.NewEvent(layers.ERefuseSend, peer)
	ev.Seq = seq
	r.p.Down(ev)
	r.p.FreeEvent(ev)
}

func (r *refuser) Up(ev *layers.Event) {
	if ev.Type != layers.ESend || ev.Peer == r.p.View().Rank {
		r.p.Up(ev)
		return
	}
	seq := r.next[ev.Peer]
	r.next[ev.Peer]++
	switch body := string(ev.Msg.Bytes()); {
	case strings.HasPrefix(body, "forged"):
		r.next[ev.Peer] = seq
		r.refuse(ev.Peer, seq)
		return
	case strings.HasPrefix(body, "bogus"):
		r.refuse(ev.Peer, seq+1)
		r.refuse(ev.Peer, seq-1)
	}
	r.p.Up(ev)
}

// TestRefusedSendRefetched: an insider's copy of member 0's second
// message to member 1 arrives first (member 2 forges it in member 0's
// name), and member 0's real one is then a duplicate. The layer above
// refuses the copy: pt2pt forgets it, asks member 0 again and delivers
// the real message, in order, once. Refusals of other numbers than the
// message going up change nothing.
func TestRefusedSendRefetched(t *testing.T) {
	names := []string{"bottom", "pt2pt", "sendrefuser"}
	nw := lt.NewNet(t, 3, names, compose.Options{})
	forged := false
	nw.Lose = func(from, to int, data []byte) bool {
		if !forged && from == 0 && to == 1 && strings.Contains(string(data), "s2") {
			forged = true
			nw.Members[1].Receive(lt.Datagram(0, layers.ESend, lt.Uv(1), []byte("forged s2")))
		}
		return false
	}
	nw.Send(0, 1, "s1", "s2", "bogus s3")
	nw.Run(50 * time.Millisecond)
	if !forged {
		t.Fatal("nothing forged")
	}
	if got, want := nw.Sends(1), []string{"0:s1", "0:s2", "0:bogus s3"}; !slices.Equal(got, want) {
		t.Fatalf("member 1 delivered %v, want %v", got, want)
	}
	if nw.Counter(1, "pt2pt", "refused") != 1 || nw.Counter(1, "pt2pt", "refusals_ignored") != 2 || nw.Counter(1, "pt2pt", "duplicates") == 0 {
		t.Fatalf("member 1's counters: %v", nw.Members[1].Counters())
	}
}
