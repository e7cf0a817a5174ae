package sign_test

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/sign"
)

// TestAlteredCopyFirstIsRefused: an insider's copy of member 0's
// multicast, one bit of it flipped, reaches member 2 before the real one,
// which mnak there then takes as a duplicate. sign refuses the batch,
// mnak forgets the copy and asks member 0 again, and member 2 delivers
// the real message, as member 1 does.
func TestAlteredCopyFirstIsRefused(t *testing.T) {
	nw, _ := newNet(t, 3, signed, compose.Options{})
	altered := false
	nw.Lose = func(from, to int, data []byte) bool {
		if altered || from != 0 || to != 2 || !bytes.Contains(data, []byte("secret")) {
			return false
		}
		altered = true
		d := bytes.Clone(data)
		i := bytes.Index(d, []byte("secret"))
		d[i+1] ^= 4 // "sacret"
		nw.Members[2].Receive(d)
		return false // the real one arrives next, a duplicate for mnak
	}
	nw.Cast(0, "before", "secret", "after")
	nw.Run(50 * time.Millisecond)
	if !altered {
		t.Fatal("no copy altered")
	}
	want := []string{"0:before", "0:secret", "0:after"}
	for r := range 3 {
		if got := nw.Casts(r); !slices.Equal(got, want) {
			t.Errorf("member %d delivered %v, want %v", r, got, want)
		}
	}
	if nw.Counter(2, "sign", "drop.forged") != 1 || nw.Counter(2, "sign", "refused") != 1 || nw.Counter(2, "mnak", "refused") != 1 {
		t.Errorf("member 2's counters: %v", nw.Members[2].Counters())
	}
	if nw.Counter(2, "mnak", "duplicates") == 0 {
		t.Error("the real copy did not arrive after the altered one")
	}
}

// withStable is the least stack with the stability layer above sign,
// which tells sign how many messages other members delivered.
var withStable = []string{"bottom", "mnak", "sign", "stable"}

// idleTarget is member 0 of two under withStable; the sender, member 1,
// makes genuine datagrams (the stability layer adds no header to casts).
func idleTarget(t *testing.T) (*lt.Member, *layers.Stack) {
	ks := groupKeys(t, 2)
	s := build(t, 0, 2, withStable, withSign(sign.Config{}), ks[0])
	return &lt.Member{T: t, S: s, N: 2}, build(t, 1, 2, small, withSign(sign.Config{}), ks[1])
}

// TestForgedMoreAtBatchEnd: an insider's copy of the message that ends
// member 1's batch, marked as one more of the batch, reaches member 0
// first, and member 1 then sends nothing: member 0 would wait for a
// signature for good. Once stability says member 1 delivered what member
// 0 holds, it refuses the held messages, and the real ones are delivered.
func TestForgedMoreAtBatchEnd(t *testing.T) {
	m, sender := idleTarget(t)
	b := genuine(t, sender, "a", "b")
	m.Feed(cast(0, b[0]))
	m.Feed(cast(1, more("b")))
	if len(m.Got) != 0 {
		t.Fatalf("delivered %q", delivered(m))
	}
	// Member 1's gossip: it delivered two of its own. That may be said
	// from the middle of a batch going down, so member 0 waits
	// OvertakenAfter for the rest.
	m.Feed(lt.Datagram(1, layers.ECastUnrel, []byte{1}, lt.Uv(2, 0, 2)))
	if m.Drops("sign", "overtaken") != 0 {
		t.Fatalf("refused at once: counters %v", m.S.Counters())
	}
	m.Tick(sign.DefaultOvertakenAfter)
	if m.Drops("sign", "overtaken") != 2 || m.S.Counter("mnak", "refused") != 1 {
		t.Fatalf("counters %v", m.S.Counters())
	}
	m.Feed(cast(0, b[0]))
	m.Feed(cast(1, b[1]))
	if got := delivered(m); got != "a b" {
		t.Fatalf("delivered %q", got)
	}
}

// TestSettleAtTheCut: the same forgery, and a view change cuts member 1
// at its own count, 2, before any gossip: the cut is not reached while
// sign holds a message below it, which it refuses, and is once the real
// messages arrive.
func TestSettleAtTheCut(t *testing.T) {
	settleForgedCopy(t, 1)
	// A failed origin's batch that it never ended is held at every
	// member, none counts it as delivered, and the cut, at what the
	// members delivered, lies below it: nothing is settled, and the view's
	// end drops it everywhere.
	m2, sender2 := target(t, sign.Config{})
	b2 := genuine(t, sender2, "a", "b")
	m2.Feed(cast(0, b2[0]))
	f2 := m2.S.ViewFlush()
	if f2.Delivered(1) != 0 {
		t.Fatalf("a held message counted as delivered: %d", f2.Delivered(1))
	}
	f2.Cut(1, 0, 0)
	if !f2.ReachedCuts() || m2.Drops("sign", "settled") != 0 {
		t.Fatalf("a cut below what is held settled: %v", m2.S.Counters())
	}
}

// TestSettleAtALeavingOriginsCut: a failed origin is cut at the most a
// survivor delivered to its application, and that survivor (the holder)
// has the real messages with their proof; a copy held here below the cut
// (an insider's, marked "more" in the place of the batch's end) is
// refused and the real messages fetched, rather than dropped at the
// view's end at this member alone while the holder delivered them.
func TestSettleAtALeavingOriginsCut(t *testing.T) {
	settleForgedCopy(t, 0)
}

// settleForgedCopy has member 1's batch (a, b) reach the target with an
// insider's copy of b marked "more", and a view change cut member 1 at 2
// with holder as the holder: the cut is not reached while sign holds the
// copies below it, which it refuses, and is once the real messages come.
func settleForgedCopy(t *testing.T, holder int) {
	t.Helper()
	m, sender := target(t, sign.Config{})
	b := genuine(t, sender, "a", "b")
	m.Feed(cast(0, b[0]))
	m.Feed(cast(1, more("b")))
	f := m.S.ViewFlush()
	f.Cut(1, 2, holder)
	if f.ReachedCuts() {
		t.Fatalf("cut held by %d reached with a forged copy held below it", holder)
	}
	if m.Drops("sign", "settled") != 2 || f.Delivered(1) != 0 {
		t.Fatalf("delivered %d, counters %v", f.Delivered(1), m.S.Counters())
	}
	m.Feed(cast(0, b[0]))
	m.Feed(cast(1, b[1]))
	if got := delivered(m); got != "a b" || !f.ReachedCuts() {
		t.Fatalf("delivered %q, cut reached %v", got, f.ReachedCuts())
	}
}
