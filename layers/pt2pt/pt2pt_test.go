package pt2pt_test

import (
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/pt2pt"
)

var stack = []string{"bottom", "pt2pt"}

// TestSend sends five messages from member 0 to member 1 through the
// losses each case names, and checks that member 1 delivers them in order,
// that the sender recovered as the case says, and that nothing stays
// unacknowledged.
func TestSend(t *testing.T) {
	for _, c := range []struct {
		name string
		lose func(from, to int, data []byte) bool
		// counter of member rec that must have moved, "" for none
		rec     int
		counter string
	}{
		{"no loss", nil, 0, ""},
		{"one lost, the next reveals the gap: NAK", lt.LoseOnce(0, 1, "s2"), 1, "naks_sent"},
		{"the last lost: the sender times out", lt.LoseOnce(0, 1, "s5"), 0, "timeouts"},
		{"every acknowledgement lost once: resent, delivered once", func() func(int, int, []byte) bool {
			acks := 0
			return func(from, to int, d []byte) bool {
				if from == 1 && acks < 3 {
					acks++
					return true
				}
				return false
			}
		}(), 0, "timeouts"},
	} {
		t.Run(c.name, func(t *testing.T) {
			nw := lt.NewNet(t, 3, stack, compose.Options{})
			nw.Lose = c.lose
			nw.Send(0, 1, "s1", "s2", "s3", "s4", "s5")
			nw.Run(100 * time.Millisecond)
			want := []string{"0:s1", "0:s2", "0:s3", "0:s4", "0:s5"}
			if got := nw.Sends(1); !slices.Equal(got, want) {
				t.Errorf("member 1 delivered %v, want %v", got, want)
			}
			if got := nw.Sends(2); len(got) != 0 {
				t.Errorf("member 2 delivered %v of messages not for it", got)
			}
			if c.counter != "" && nw.Counter(c.rec, "pt2pt", c.counter) == 0 {
				t.Errorf("member %d counted no %s", c.rec, c.counter)
			}
			if c.counter == "" && nw.Counter(1, "pt2pt", "naks_sent")+nw.Counter(0, "pt2pt", "timeouts") != 0 {
				t.Error("recovery without loss")
			}
			p := nw.Members[0].Layer("pt2pt").(*pt2pt.Layer)
			if p.Unacknowledged(1) {
				t.Error("member 0 still waits for an acknowledgement")
			}
		})
	}
}

// TestSendToSelf is delivered locally, at once.
func TestSendToSelf(t *testing.T) {
	nw := lt.NewNet(t, 2, stack, compose.Options{})
	nw.Send(1, 1, "me")
	if got := nw.Sends(1); !slices.Equal(got, []string{"1:me"}) {
		t.Fatalf("delivered %v, want 1:me", got)
	}
}

// TestWindow: at most Window messages per destination are unacknowledged;
// the rest wait as backlog, and go as acknowledgements come back. Another
// destination is not held up.
func TestWindow(t *testing.T) {
	nw := lt.NewNet(t, 3, stack, compose.Options{Pt2pt: pt2pt.Config{Window: 2}})
	nw.Send(0, 1, "a", "b", "c", "d", "e")
	if b := nw.Members[0].Backlog(); b != 3 {
		t.Fatalf("backlog %d, want 3 beyond a window of 2", b)
	}
	nw.Send(0, 2, "x")
	nw.Run(time.Millisecond)
	if got := nw.Sends(2); !slices.Equal(got, []string{"0:x"}) {
		t.Fatalf("member 2 got %v: a full window toward 1 held it up", got)
	}
	if got := nw.Sends(1); len(got) != 2 {
		t.Fatalf("member 1 got %v in the first step, want the window's 2", got)
	}
	nw.Run(50 * time.Millisecond)
	if got := nw.Sends(1); !slices.Equal(got, []string{"0:a", "0:b", "0:c", "0:d", "0:e"}) {
		t.Fatalf("member 1 delivered %v", got)
	}
	if b := nw.Members[0].Backlog(); b != 0 {
		t.Fatalf("backlog %d left", b)
	}
}

// TestBothWays: two members sending to each other under loss each get the
// other's stream whole and in order.
func TestBothWays(t *testing.T) {
	nw := lt.NewNet(t, 2, stack, compose.Options{})
	i := 0
	nw.Lose = func(from, to int, d []byte) bool { i++; return i%4 == 0 }
	var want0, want1 []string
	for k := range 40 {
		m := string(rune('A' + k))
		nw.Send(0, 1, m)
		nw.Send(1, 0, m)
		want1 = append(want1, "0:"+m)
		want0 = append(want0, "1:"+m)
		if k%10 == 0 {
			nw.Run(time.Millisecond)
		}
	}
	nw.Run(200 * time.Millisecond)
	if !slices.Equal(nw.Sends(0), want0) || !slices.Equal(nw.Sends(1), want1) {
		t.Fatalf("delivered %v and %v", nw.Sends(0), nw.Sends(1))
	}
}
