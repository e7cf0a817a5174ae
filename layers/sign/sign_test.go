package sign_test

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/mflow"
	"github.com/conclave-go/conclave/layers/sign"
	"github.com/conclave-go/conclave/layers/stable"
)

// Every member's multicasts reach every member in order, and a burst of
// them is signed in a few batches, not one signature per message.
func TestCastsDeliveredInOrderAndSignedInBatches(t *testing.T) {
	nw, _ := newNet(t, 3, signed, compose.Options{})
	var want [3][]string
	for i := range 300 {
		from := i % 3
		m := fmt.Sprintf("m%d-%d", from, i/3)
		nw.Members[from].Cast([]byte(m))
		want[from] = append(want[from], fmt.Sprintf("%d:%s", from, m))
	}
	for r := range 3 {
		nw.Collect(r)
	}
	nw.Run(50 * time.Millisecond)
	for r := range 3 {
		got := nw.Casts(r)
		if len(got) != 300 {
			t.Fatalf("member %d delivered %d of 300", r, len(got))
		}
		for from := range 3 {
			var mine []string
			for _, g := range got {
				if strings.HasPrefix(g, fmt.Sprint(from, ":")) {
					mine = append(mine, g)
				}
			}
			if !slices.Equal(mine, want[from]) {
				t.Fatalf("member %d delivered member %d's casts as %v", r, from, mine)
			}
		}
		if n := nw.Counter(r, "sign", "batches_signed"); n == 0 || n > 2 {
			t.Errorf("member %d signed its 100 casts in %d batches, want 1 or 2", r, n)
		}
		if d := nw.Members[r].Drops(); d != 0 {
			t.Errorf("member %d dropped %d", r, d)
		}
	}
}

// An insider holds the group's keys and can make datagrams in any
// member's name, but only its own signature key. Its stack claiming member
// 0's rank multicasts messages signed with member 2's key: with the layer
// the others drop them, without it they deliver them as member 0's.
func TestInsiderForgingAnotherSenderIsDropped(t *testing.T) {
	for _, c := range []struct {
		names  []string
		forged bool // delivered as member 0's
	}{{signed, false}, {plain, true}} {
		nw, ks := newNet(t, 3, c.names, compose.Options{})
		rogue := build(t, 0, 3, c.names, compose.Options{}, ks[2]) // rank 0, member 2's key
		rogue.Cast([]byte("pay mallory"))
		rogue.Flush()
		for _, p := range rogue.Ready().Packets {
			nw.Members[1].Receive(bytes.Clone(p.Data))
		}
		rogue.Advance()
		nw.Collect(1)
		got := slices.Contains(nw.Casts(1), "0:pay mallory")
		if got != c.forged {
			t.Fatalf("%v: forged multicast delivered %v, want %v", c.names, got, c.forged)
		}
		if !c.forged && nw.Counter(1, "sign", "drop.forged") != 1 {
			t.Fatalf("forgery not counted: %v", nw.Members[1].Counters())
		}
	}
}

// A member that retransmits another's multicast (here in a view change's
// recovery, asked by member 2 for what member 0 sent) alters it on the
// way: member 2 drops the batch rather than deliver the altered message.
// Without the layer it delivers it.
func TestAlteredRetransmissionIsDropped(t *testing.T) {
	for _, c := range []struct {
		names   []string
		altered bool
	}{{signed, false}, {plain, true}} {
		nw, _ := newNet(t, 3, c.names, compose.Options{})
		nw.Lose = func(from, to int, data []byte) bool {
			if from == 1 && to == 2 {
				if i := bytes.Index(data, []byte("pay alice")); i >= 0 {
					copy(data[i:], "pay trudy") // member 1 alters what it relays
				}
			}
			return from == 0 && to == 2 // member 2 hears nothing from 0
		}
		nw.Cast(0, "hello", "pay alice")
		nw.Run(5 * time.Millisecond)
		if n := len(nw.Casts(1)); n != 2 {
			t.Fatalf("%v: member 1 delivered %d of 2", c.names, n)
		}
		// The view change makes member 2 fetch member 0's messages from 1.
		nw.Members[2].ViewFlush().Cut(0, 2, 1)
		nw.Collect(2)
		nw.Run(20 * time.Millisecond)
		if nw.Counter(1, "mnak", "retransmitted") == 0 {
			t.Fatalf("%v: member 1 retransmitted nothing", c.names)
		}
		got := slices.Contains(nw.Casts(2), "0:pay trudy")
		if got != c.altered {
			t.Fatalf("%v: altered message delivered %v, want %v (member 2 got %v)", c.names, got, c.altered, nw.Casts(2))
		}
		if !c.altered && nw.Counter(2, "sign", "drop.forged") == 0 {
			t.Fatalf("alteration not counted: %v", nw.Members[2].Counters())
		}
	}
}

// A lone multicast at light load is signed at the driver's flush that
// follows it, not at a tick, and reaches the others with the datagrams of
// that flush: a sender that has just signed a batch does not wait before
// it signs the next. Each round here casts twice within one instant of the
// virtual clock, as a sender of about a message a millisecond does when
// two come close together.
func TestLoneMulticastIsSignedAtTheFlush(t *testing.T) {
	nw, _ := newNet(t, 3, signed, compose.Options{})
	signed := uint64(0)
	for i := range 20 {
		var want []string
		for k := range 2 {
			m := fmt.Sprintf("m%d-%d", i, k)
			nw.Cast(0, m) // the driver's flush follows it, and no tick
			signed++
			if n := nw.Counter(0, "sign", "batches_signed"); n != signed {
				t.Fatalf("%s: %d batches signed at the flush, want %d", m, n, signed)
			}
			want = append(want, "0:"+m)
		}
		// One step of the network: the datagrams arrive.
		nw.Step()
		for r := 1; r < 3; r++ {
			if got := nw.Casts(r); len(got) != 2*(i+1) || !slices.Equal(got[2*i:], want) {
				t.Fatalf("round %d: member %d delivered %v, want %v last", i, r, got, want)
			}
		}
	}
}

// A burst under load is still signed in batches: the messages that come
// in one pass of the driver share a signature, and so do those that flow
// control holds back and lets through together. Member 0 casts 4000
// multicasts, 200 in each step of the clock, with a flow control window
// of 512 that holds most of them back until the others acknowledge.
func TestBurstIsSignedInBatches(t *testing.T) {
	const total, perStep = 4000, 200
	opts := compose.Options{Mflow: mflow.Config{Window: 512}}
	nw, _ := newNet(t, 3, signed, opts)
	for i := 0; i < total; i += perStep {
		for k := range perStep {
			nw.Members[0].Cast(fmt.Appendf(nil, "m%d", i+k))
		}
		nw.Collect(0) // the driver's flush, after its pass of 200 inputs
		nw.Step()
	}
	nw.Run(100 * time.Millisecond)
	for r := range 3 {
		if n := len(nw.Casts(r)); n != total {
			t.Fatalf("member %d delivered %d of %d; counters %v", r, n, total, nw.Members[r].Counters())
		}
	}
	batches := nw.Counter(0, "sign", "batches_signed")
	if batches == 0 || batches > total/50 {
		t.Fatalf("%d multicasts in %d batches, want at least 50 a batch", total, batches)
	}
	t.Logf("%d multicasts in %d batches", total, batches)
	for r := 1; r < 3; r++ {
		if v := nw.Counter(r, "sign", "batches_verified"); v != batches {
			t.Fatalf("member %d verified %d batches of %d", r, v, batches)
		}
	}
}

// A driver that does not flush still has its sender's batch signed, by
// the first Tick Interval after the batch's first message, and no sooner.
func TestTickSignsWhatNoFlushDid(t *testing.T) {
	const interval = 5 * time.Millisecond
	nw, _ := newNet(t, 2, signed, withSign(sign.Config{Interval: interval}))
	s := nw.Members[0]
	s.Cast([]byte("a"))
	s.Tick(time.Millisecond)
	s.Cast([]byte("b"))
	s.Tick(interval - 1)
	if n := nw.Counter(0, "sign", "batches_signed"); n != 0 {
		t.Fatalf("%d batches signed before the interval", n)
	}
	s.Tick(interval)
	if n, m := nw.Counter(0, "sign", "batches_signed"), nw.Counter(0, "sign", "signed"); n != 1 || m != 2 {
		t.Fatalf("at the interval: %d batches, %d messages signed, want 1 and 2", n, m)
	}
	nw.Collect(0)
	nw.Step()
	if got := nw.Casts(1); !slices.Equal(got, []string{"0:a", "0:b"}) {
		t.Fatalf("member 1 delivered %v", got)
	}
}

// Block signs and sends the open batch at once, so that the count of
// multicasts a view change takes includes it; without it the batch would
// wait for the interval.
func TestBlockSendsTheOpenBatch(t *testing.T) {
	nw, _ := newNet(t, 2, signed, withSign(sign.Config{Interval: time.Hour}))
	nw.Cast(0, "a") // signed at the flush that follows it
	castUnflushed(nw, 0, "b", "c")
	f := nw.Members[0].ViewFlush()
	if f.Sent() != 1 {
		t.Fatalf("sent %d before the block, want 1 (the rest wait for a flush)", f.Sent())
	}
	f.Block()
	if f.Sent() != 3 {
		t.Fatalf("sent %d after the block, want 3", f.Sent())
	}
	nw.Collect(0)
	nw.Run(3 * lt.Tick)
	if got := nw.Casts(1); !slices.Equal(got, []string{"0:a", "0:b", "0:c"}) {
		t.Fatalf("member 1 delivered %v", got)
	}
	// A multicast after the block goes at once too.
	nw.Cast(0, "d")
	if f.Sent() != 4 {
		t.Fatalf("sent %d, want 4", f.Sent())
	}
}

// A sender whose open batch Block closes delivers its own multicasts in
// the view, as the other members do, and it does so within the Block call:
// they are among the stack's outputs as soon as Block returns (the
// datagrams carrying them wait for the driver's flush, as bundled ones
// do), so a driver must take the outputs of Block before Advance, as it
// does those of any other call, or the sender never delivers them.
func TestBlockDeliversTheSendersOwnBatch(t *testing.T) {
	nw, _ := newNet(t, 3, signed, withSign(sign.Config{Interval: time.Hour}))
	nw.Cast(0, "a") // signed at the flush that follows it
	castUnflushed(nw, 0, "b", "c")
	s := nw.Members[0]
	if n := len(s.Ready().Deliveries); n != 0 {
		t.Fatalf("sender delivered %d before the block, want 0 (b and c wait for a flush)", n)
	}
	s.ViewFlush().Block()
	rd := s.Ready()
	var own []string
	for _, d := range rd.Deliveries {
		if d.Multicast() {
			own = append(own, fmt.Sprintf("%d:%s", d.From, d.Data))
		}
	}
	if !slices.Equal(own, []string{"0:b", "0:c"}) {
		t.Fatalf("Block left the sender's own deliveries %v among its outputs, want b and c", own)
	}
	nw.Collect(0)
	nw.Run(3 * lt.Tick)
	want := []string{"0:a", "0:b", "0:c"}
	for r := range 3 {
		if got := nw.Casts(r); !slices.Equal(got, want) {
			t.Fatalf("member %d delivered %v in the view, want %v", r, got, want)
		}
	}
}

// A view that ends drops the sender's batch not yet sent, which no member
// delivers (the sender included), and what receivers hold unsigned.
func TestViewEndDropsWhatWasNotSigned(t *testing.T) {
	nw, _ := newNet(t, 2, signed, withSign(sign.Config{Interval: time.Hour}))
	nw.Cast(0, "a")
	castUnflushed(nw, 0, "b")
	nw.Members[0].EndView()
	nw.Collect(0)
	nw.Run(3 * lt.Tick)
	if got := nw.Casts(0); !slices.Equal(got, []string{"0:a"}) {
		t.Fatalf("sender delivered %v, want only the signed one", got)
	}
	if got := nw.Casts(1); !slices.Equal(got, []string{"0:a"}) {
		t.Fatalf("receiver delivered %v", got)
	}
	if nw.Counter(0, "sign", "drop.unsent_at_view_end") != 1 {
		t.Fatalf("counters %v", nw.Members[0].Counters())
	}
}

// A stack without signature keys sends and delivers no multicast.
func TestNoKeysNoMulticasts(t *testing.T) {
	nw := lt.NewNet(t, 2, signed, compose.Options{})
	nw.Cast(0, "a")
	nw.Run(3 * lt.Tick)
	if len(nw.Casts(0))+len(nw.Casts(1)) != 0 {
		t.Fatalf("delivered %v and %v without keys", nw.Casts(0), nw.Casts(1))
	}
	if nw.Counter(0, "sign", "drop.unprotected") != 1 {
		t.Fatalf("counters %v", nw.Members[0].Counters())
	}
}

// The layer sits directly above mnak.
func TestPlacement(t *testing.T) {
	cfg := layers.Config{View: layers.View{Group: 7, N: 2}}
	if _, err := compose.Build(cfg, []string{"bottom", "bundle", "sign", "mnak"}, compose.Options{}); err == nil || !strings.Contains(err.Error(), `"sign" must sit directly above "mnak"`) {
		t.Fatalf("sign below mnak: %v", err)
	}
}

// A sender fails after its batch's first message went out and before the
// last one, which carries the signature, reached anyone: the survivors,
// brought to the same cut by the view change, both hold the first message
// unsigned and neither delivers it.
func TestSurvivorsAgreeOnABatchCutShort(t *testing.T) {
	nw, _ := newNet(t, 3, []string{"bottom", "mnak", "sign"}, withSign(sign.Config{Interval: time.Hour}))
	nw.Cast(0, "a")                // signed alone at the flush that follows it
	castUnflushed(nw, 0, "b", "c") // the open batch, which Block signs
	nw.Lose = func(from, to int, data []byte) bool { return bytes.HasSuffix(data, []byte("c")) }
	nw.Members[0].ViewFlush().Block()
	nw.Collect(0)
	nw.Run(3 * lt.Tick)
	nw.Dead[0] = true
	for r := 1; r < 3; r++ {
		// The cut is what the survivors delivered to the application,
		// as they report it: a alone, b being held.
		if d := nw.Members[r].ViewFlush().Delivered(0); d != 1 {
			t.Fatalf("member %d counts %d delivered, want 1 (a)", r, d)
		}
	}
	for r := 1; r < 3; r++ {
		f := nw.Members[r].ViewFlush()
		f.Cut(0, 1, 1)
		if !f.ReachedCuts() {
			t.Fatalf("member %d has not reached the cut", r)
		}
		nw.Members[r].EndView()
		nw.Collect(r)
		if got := nw.Casts(r); !slices.Equal(got, []string{"0:a"}) {
			t.Fatalf("member %d delivered %v, want only a", r, got)
		}
		if nw.Counter(r, "sign", "drop.unsigned_at_view_end") != 1 {
			t.Fatalf("member %d: %v", r, nw.Members[r].Counters())
		}
	}
}

// The layers above may multicast while this member's own multicast is
// delivered to them, in the middle of a batch going down (stability's
// gossip reopens flow control's window, which sends what it held): those
// multicasts wait for the next batch rather than slip between the
// batch's messages, whose numbers the signature covers, and the driver's
// flush signs that next batch too.
func TestMulticastsWhileABatchGoesDown(t *testing.T) {
	// Flow control's window of 8 holds most of 200 casts back; stability
	// acknowledges every 4 deliveries, and a member alone in its view
	// needs nobody else's, so its own deliveries reopen the window while
	// its batches go down.
	opts := compose.Options{
		Mflow:  mflow.Config{Window: 8},
		Stable: stable.Config{AckEvery: 4},
	}
	nw, _ := newNet(t, 1, signed, opts)
	var want []string
	for i := range 200 {
		m := fmt.Sprintf("m%d", i)
		nw.Members[0].Cast([]byte(m))
		want = append(want, "0:"+m)
	}
	nw.Collect(0)
	// The flush signs all of them, those that came while batches went
	// down included: the driver has nothing more, so nothing waits.
	if got := len(nw.Casts(0)); got != len(want) {
		t.Fatalf("delivered %d of %d at the flush, without a tick", got, len(want))
	}
	nw.Run(300 * time.Millisecond)
	if got := nw.Casts(0); !slices.Equal(got, want) {
		t.Fatalf("delivered %d of 200: %v; counters %v", len(got), got, nw.Members[0].Counters())
	}
}

// castUnflushed multicasts data from member from without the driver's
// flush that would sign it: the batch stays open, as it is while the
// driver still takes input.
func castUnflushed(nw *lt.Net, from int, data ...string) {
	for _, d := range data {
		nw.Members[from].Cast([]byte(d))
	}
}
