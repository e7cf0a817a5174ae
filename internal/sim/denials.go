package sim

import (
	"slices"

	"github.com/conclave-go/conclave/membership"
)

// With sender authentication an insider can still make a member lose
// another member's multicasts: a forgery it sends the member takes the
// place of the real message in the reliable multicast layer's stream
// there, and the sign layer drops the batch whose signature then fails
// (signforger.go). The member never delivers that batch, while the other
// members do; and what the sign layer held of the stream goes with it.
// This is denial of service, which signatures do not prevent, not a
// forgery delivered.
//
// The run tells the Checker of each stream it so attacked (Denied): the
// victim's multicasts at the target in the view the forgery was sent in.
// For those, and only those, the Checker excuses what the loss causes:
// gaps in the member's delivery of the stream in that view, the stream's
// casts missing at it when compared with the members that moved to the
// same next view, and the expected deliveries of casts that went out in
// that view. Everything the member delivered of the stream is still held
// to every other rule: sent by its claimed sender with the bytes sent,
// once, in order, from a member of its view.

// denial is one stream denied at one member in one view.
type denial struct {
	proc int
	view membership.ViewID
	from int // the stream's sender, a process
}

// deferredGap is a gap in a member's delivery of a stream, reported at
// Finish unless the stream was denied there (Checker.gap).
type deferredGap struct {
	denial
	msg string
}

// viewSender names the casts of one sender in one view.
type viewSender struct {
	view membership.ViewID
	from int
}

// Denied records that an insider attacked process q's delivery of
// process from's multicasts in view view, which q may therefore miss.
func (c *Checker) Denied(q int, view membership.ViewID, from int) {
	k := denial{q, view, from}
	if c.denied[k] {
		return
	}
	if c.denied == nil {
		c.denied = make(map[denial]bool)
		c.deniedAt = make(map[viewSender][]int)
	}
	c.denied[k] = true
	vs := viewSender{view, from}
	c.deniedAt[vs] = append(c.deniedAt[vs], q)
	if rec := c.views[view]; rec != nil {
		for _, i := range rec.out[ID{Kind: KindCast, From: from}] {
			c.excuse(ID{Kind: KindCast, From: from, Index: i}, q)
		}
	}
}

// Denials is how many streams the insiders attacked at a member in a view.
func (c *Checker) Denials() int { return len(c.denied) }

// Excused is how many expected deliveries the Checker excused because of
// a denial.
func (c *Checker) Excused() int { return c.excused }

// isDenied reports whether q's delivery of id's stream in view was
// attacked.
func (c *Checker) isDenied(q int, view membership.ViewID, id ID) bool {
	return id.Kind == KindCast && c.denied[denial{q, view, id.From}]
}

// excuse drops the expectation that q delivers id, if there is one still
// open.
func (c *Checker) excuse(id ID, q int) {
	i, ok := c.expIndex[expectKey{id, q}]
	if !ok || c.expected[i].done {
		return
	}
	c.expected[i].done = true
	c.outstanding--
	c.excused++
}

// excuseOut excuses, as id goes out in view v, its expected delivery at
// the members where its stream was denied in v.
func (c *Checker) excuseOut(v *viewRecord, id ID) {
	if id.Kind != KindCast {
		return
	}
	for _, q := range c.deniedAt[viewSender{v.id, id.From}] {
		c.excuse(id, q)
	}
}

// excuseExpected excuses a new expectation that q delivers id when id
// went out in a view where its stream was denied at q.
func (c *Checker) excuseExpected(id ID, q int) {
	if id.Kind != KindCast {
		return
	}
	for k := range c.denied {
		if k.proc == q && k.from == id.From {
			if rec := c.views[k.view]; rec != nil && slices.Contains(rec.out[streamKey(id)], id.Index) {
				c.excuse(id, q)
				return
			}
		}
	}
}

// comparable is the casts of got that virtual synchrony compares between
// members a and b moving from view v to the same next view: those of the
// streams denied at neither in v.
func (c *Checker) comparable(v membership.ViewID, a, b int, got []ID) []ID {
	out := casts(got)
	if len(c.denied) == 0 {
		return out
	}
	return slices.DeleteFunc(out, func(id ID) bool { return c.isDenied(a, v, id) || c.isDenied(b, v, id) })
}
