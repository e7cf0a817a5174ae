package sim

import (
	"encoding/binary"
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// fakeDecisions is a participant's record, written by hand.
type fakeDecisions struct {
	installed map[membership.ViewID]uint64
	confirmed map[membership.ViewID]bool
}

func (d *fakeDecisions) EpochDigest(id membership.ViewID) ([32]byte, bool) {
	fp, ok := d.installed[id]
	return digestOf(fp), ok
}

// digestOf is the digest whose first 8 bytes are fp.
func digestOf(fp uint64) [32]byte {
	var d [32]byte
	binary.BigEndian.PutUint64(d[:], fp)
	return d
}

func (d *fakeDecisions) Confirmed(id membership.ViewID) bool { return d.confirmed[id] }

// decisionFixture is a checkerFixture whose n processes have participants,
// in view 1 of all of them, decided with fingerprint 1.
func decisionFixture(t *testing.T, n int) (*checkerFixture, []*fakeDecisions) {
	f := &checkerFixture{t: t, c: NewChecker(false), ps: map[ID][]byte{}, n: map[ID]int{}}
	var ds []*fakeDecisions
	for range n {
		p := f.start()
		d := &fakeDecisions{installed: map[membership.ViewID]uint64{}, confirmed: map[membership.ViewID]bool{}}
		f.c.Participant(p, d)
		ds = append(ds, d)
	}
	f.decide(ds, f.view(1, 0, all(n)...), 1, all(n)...)
	f.change(f.view(1, 0, all(n)...), all(n)...)
	return f, ds
}

// decide makes the processes ps confirm v's decision and install it with
// fingerprint fp.
func (f *checkerFixture) decide(ds []*fakeDecisions, v membership.View, fp uint64, ps ...int) {
	for _, p := range ps {
		ds[p].confirmed[v.ID] = true
		ds[p].installed[v.ID] = fp
	}
}

func TestCheckerAcceptsAgreedDecisions(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 1, 2)
	f.change(v, 0, 1, 2)
	// A rekey round: the same members, a new view, a new decision.
	v = f.view(3, 0, 0, 1, 2)
	f.decide(ds, v, 8, 0, 1, 2)
	f.change(v, 0, 1, 2)
	f.finish(0, "")
}

func TestCheckerReportsMismatchedDecision(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 1)
	f.decide(ds, v, 9, 2)
	f.change(v, 0, 1, 2)
	f.want(1, "member 2: installed view 2@m0 [m0 m1 m2] with epoch 0000000000000009, member 0 with 0000000000000007")
}

func TestCheckerReportsViewWithoutDecision(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 2)
	ds[1].confirmed[v.ID] = true
	f.change(v, 0, 1, 2)
	f.want(1, "member 1: installed view 2@m0 [m0 m1 m2] without an epoch")
}

func TestCheckerReportsUnconfirmedDecision(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 1)
	// Member 2 never confirmed; member 0 installs anyway. Member 2 then
	// does too (its own fingerprint agrees): one violation, at the first
	// installation.
	f.consent(v, 0, 1, 2)
	f.install(v, 0)
	f.want(1, "member 0: installed view 2@m0 [m0 m1 m2], whose epoch member 2 never confirmed")
	f.install(v, 1)
	ds[2].installed[v.ID] = 7
	f.install(v, 2)
	f.want(1, "")
}

func TestCheckerReportsEpochHeldOutsideView(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	// Member 2 leaves; the others go on in view 2 with a new epoch. If
	// member 2 holds that epoch too (it derived it from the commit), the
	// Checker says so, once.
	v := f.view(2, 0, 0, 1)
	f.decide(ds, v, 7, 0, 1)
	ds[2].installed[v.ID] = 7
	f.change(v, 0, 1)
	f.want(1, "member 2: holds the epoch of view 2@m0 [m0 m1], which it is not in")
	f.finish(1, "")
}

func TestCheckerReportsOutsiderEpoch(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	o := &fakeDecisions{installed: map[membership.ViewID]uint64{}, confirmed: map[membership.ViewID]bool{}}
	f.c.Outsider("outsider", o)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 1, 2)
	f.change(v, 0, 1, 2)
	f.want(0, "")
	f.c.Derived("ex-member m3", digestOf(8))
	f.want(0, "")
	// An epoch derived before any member installs it is found when one
	// does.
	f.c.Derived("ex-member m4", digestOf(9))
	v3 := f.view(3, 0, 0, 1, 2)
	f.decide(ds, v3, 9, 0, 1, 2)
	f.change(v3, 0, 1, 2)
	f.want(1, "ex-member m4: derived the epoch of view 3@m0")
	f.c.Derived("ex-member m3", digestOf(7))
	f.want(2, "")
	o.installed[v.ID] = 5
	f.finish(3, "")
}
