package sim

import (
	"testing"

	"github.com/conclave-go/conclave/membership"
)

// fakeDecisions is a participant's record, written by hand.
type fakeDecisions struct {
	installed map[membership.ViewID]uint64
	confirmed map[membership.ViewID]bool
}

func (d *fakeDecisions) Decision(id membership.ViewID) (uint64, bool) {
	fp, ok := d.installed[id]
	return fp, ok
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
	f.want(1, "member 2: installed view 2@m0 [m0 m1 m2] with decision 0000000000000009, member 0 with 0000000000000007")
}

func TestCheckerReportsViewWithoutDecision(t *testing.T) {
	f, ds := decisionFixture(t, 3)
	v := f.view(2, 0, 0, 1, 2)
	f.decide(ds, v, 7, 0, 2)
	ds[1].confirmed[v.ID] = true
	f.change(v, 0, 1, 2)
	f.want(1, "member 1: installed view 2@m0 [m0 m1 m2] without a decision")
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
	f.want(1, "member 0: installed view 2@m0 [m0 m1 m2], whose decision member 2 never confirmed")
	ds[2].installed[v.ID] = 7
	f.install(v, 1, 2)
	f.want(1, "")
}
