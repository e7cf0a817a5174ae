package membership

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/conclave-go/conclave/layers"
)

// ErrHold is returned by Participant.Decide to hold the decision of the
// next view: the member asks again on its next tick, until the hold's
// deadline (half of Timing.Stuck), when the round fails as if Decide had.
var ErrHold = errors.New("membership: hold the view change")

// Participant is implemented by the layers above membership that take part
// in every view change: the security layers admit joiners and agree on
// each view's group key this way. Its methods are called from the member's
// driving goroutine, never concurrently, and must not block. Without a
// Participant (Config.Participant nil) the group has no admission check,
// no decision and no keys, and control messages are not authenticated.
//
// A view change with a Participant has a prepare step (coordinator.go):
//
//	coordinator                        decider                 every member of next
//	            ◀────────────────────────────────────────────── FlushOK{Contribute}
//	all flushed: DecideReq ─────▶ Decide(cur, next, contributions)
//	            ◀────────────────  Decision{Common, Parts}
//	Prepare{Common, Parts[e]} ────────────────────────────────▶ Process → confirmation
//	            ◀─────────────────────────────────────────────── Confirm
//	Verify each; all confirmed and synced: Install ─────────────▶ Install → Keys
//
// The decider is asked (DecideReq, or the coordinator's own Decide) as
// soon as every member has flushed, and the members get Prepare beside the
// cut (Sync), so that the prepare step costs no round trip of its own.
// With an EarlyDecider it is asked earlier still, beside the Flush (once
// the joiners and the coordinator have flushed, when there are joiners),
// and each member gets Prepare as soon as both the decision and its
// FlushOK are in: the decision is made while the members flush.
//
// All members of next switch to it or none do: Install is ordered only
// once every member has confirmed. A member whose Process fails refuses;
// it is left out and the round restarts without it. A decision that is
// never installed (the round restarted, the coordinator failed) is
// discarded with Discard at every member that processed it.
type Participant interface {
	// Start tells the participant which endpoint it serves. New calls it
	// once, before any other method.
	Start(self Endpoint)

	// Handshake starts one side of an admission handshake between a
	// joiner (initiator) and the coordinator it asks to join. nonce is
	// the coordinator's fresh nonce for this attempt; the handshake must
	// bind it (and both endpoints) into its transcript, so that no
	// message of one attempt is accepted in another.
	Handshake(initiator bool, self, peer Endpoint, nonce []byte) (Handshake, error)

	// Admit checks a peer's authenticated identity: at the coordinator,
	// a joiner's (a non-nil error keeps it out of this view change and
	// later ones); at a joiner, the coordinator's (a non-nil error makes
	// the joiner refuse that group). The text of the coordinator's error
	// is shown to the refused joiner (its first MaxRefusalReason bytes,
	// admission.go): it must say nothing the group keeps from strangers.
	Admit(peer Endpoint, id Identity) error

	// Contribute runs at every member taking part in a view change (the
	// flushed members and the joiners) when it agrees to next; the bytes
	// (at most MaxContribution) reach the decider.
	Contribute(next View) []byte

	// Decider names the member of next that computes the decision: the
	// coordinator itself, or another member it delegates to. Only a
	// member of both cur and next can be the decider, never a joiner
	// (it has not been admitted to what the decision builds on); for
	// anyone else, the coordinator decides itself. A decider that does
	// not answer in Timing.Flush is left out of the round as a silent
	// member is, not refused.
	Decider(cur, next View) Endpoint

	// Decide runs at the decider once every member has flushed and
	// contributed (with an EarlyDecider, once the joiners and the
	// coordinator have, whatever the others' phase). joiners are the members of next new to cur, with the
	// identities their admission established (zero without handshake).
	// ErrHold postpones the decision (Decide runs again on the next
	// tick); any other error aborts the view change, which is retried
	// without its joiners: a *JoinerError without the joiners it names,
	// any other error without all of them. At a delegated decider the
	// error is reported to the coordinator as a refusal (naming the
	// joiners of a *JoinerError), which retries the same way and does
	// not hold it against the decider, unless the round had no joiners.
	Decide(cur, next View, contributions map[Endpoint][]byte, joiners map[Endpoint]Identity) (Decision, error)

	// Process runs at every member of next with the decision's common
	// part and this member's own part. It returns the confirmation the
	// coordinator checks with Verify; an error refuses the decision.
	Process(next View, common, own []byte) (confirmation []byte, err error)

	// Verify runs at the coordinator for each member's confirmation of
	// the decision whose common part is common.
	Verify(next View, common []byte, member Endpoint, confirmation []byte) error

	// Discard forgets a processed decision of next that will not be
	// installed.
	Discard(next View)

	// Install runs at every member of next, before next's stack starts,
	// once the coordinator has ordered it. What it returns goes into the
	// stack's layers.Config.Keys and is released when that stack ends. A
	// view this member makes alone (a first view, going on alone) is
	// decided, processed and installed at once, here. An error keeps
	// this member out of next: it goes on alone.
	Install(next View) (layers.Keys, error)

	// Authenticator returns what seals and opens the control messages of
	// view v, this member being of rank rank in it: a view installed at
	// this member, or one whose decision it has processed (Process
	// succeeded) and not yet installed or discarded, under which
	// membership seals the end of that round (Confirm, Install,
	// InstallAck: auth.go). For such a view it must seal and open Change
	// messages; Routine ones are never sent under it. Membership asks
	// again once it installs v.
	Authenticator(v View, rank int) Authenticator
}

// EarlyDecider is an optional interface of a Participant whose Decide
// needs only the contributions of the round's joiners and of its
// coordinator: every other member of both views contributes nothing (its
// Contribute returns nil). The coordinator then asks the decider beside
// the Flush, as soon as the joiners' and its own FlushOK are in (at the
// round's start when there are no joiners), rather than once every member
// has flushed, which takes the flush off the round's critical path. Decide
// then sees only those contributions, and may run while members, the
// decider included, still flush.
//
// If a survivor's FlushOK carries a contribution after all, the round
// starts again under a new proposal, and the view's later rounds decide
// once every member has flushed: a decider answers the same round with
// the same decision, so asking it again would not bring the contribution
// in.
type EarlyDecider interface {
	// SurvivorsContributeNothing reports whether the contract above
	// holds; false decides as a Participant without it does.
	SurvivorsContributeNothing() bool
}

// Rekeyer is an optional interface of a Participant that starts rekey
// rounds on its own (a timer, a message count): RekeyDue is asked at the
// coordinator on each tick of an installed view, with what the
// coordinator saw of it.
type Rekeyer interface {
	RekeyDue(v View, s ViewStats) bool
}

// Idler is an optional interface of a Participant that works ahead while
// its member is at rest: Idle is called with the id of the member's
// installed view at the end of a tick with no view change under way
// (neither coordinating nor taking part in one), from the member's
// goroutine like every other method. It gets the id alone, not a copy of
// the view, since it comes every tick: the participant knows the views it
// installed. It may do some bounded work that a later view change would
// otherwise do on its critical path (the secure participant draws the key
// pairs of its next commit's path, and derives the pairwise keys it will
// need), at most a few hundred microseconds per call: a tick holds up
// every input behind it.
type Idler interface {
	Idle(id ViewID)
}

// ViewStats is what a member saw of its current view, for a Rekeyer.
type ViewStats struct {
	// Age is the time since the view was installed at this member (on
	// the member's clock, virtual in the simulator).
	Age time.Duration
	// Messages is the number of messages this member delivered in the
	// view, its own included.
	Messages uint64
	// Bytes is the sum of their lengths.
	Bytes uint64
}

// Describer is an optional interface of a Participant: it names the
// members of a view it installed, by rank, and the view's key epoch.
// Membership asks it right after Install (and after a view this member
// made alone) for the ViewChange event; ok is false when it cannot say
// (the event then carries no identities and no KeyChange follows).
type Describer interface {
	Describe(v View) (ids []Identity, epoch uint64, ok bool)
}

// JoinerError is an error of Participant.Decide that blames joiners of the
// view change, not the decider: a joiner's contribution or credentials it
// cannot accept. The round is retried without the joiners named (those
// that are not joiners of the round are ignored; naming none blames them
// all). Their endpoints reach the coordinator; the wrapped error does
// not.
type JoinerError struct {
	Joiners []Endpoint
	Err     error
}

func (e *JoinerError) Error() string {
	return fmt.Sprintf("membership: joiners %v refused: %v", e.Joiners, e.Err)
}

func (e *JoinerError) Unwrap() error { return e.Err }

// culprits returns the joiners of the round that err blames: those a
// *JoinerError names (named), or all of them when it names none, names
// someone not a joiner, or err is another error.
func culprits(err error, joiners []Endpoint) (out []Endpoint, named bool) {
	var je *JoinerError
	if errors.As(err, &je) {
		if b := blamed(je.Joiners, joiners); b != nil {
			return b, true
		}
	}
	return slices.Clone(joiners), false
}

// blamed returns named if it is a non-empty list of distinct joiners of
// the round, else nil.
func blamed(named, joiners []Endpoint) []Endpoint {
	if len(named) == 0 || len(named) > len(joiners) {
		return nil
	}
	for i, e := range named {
		if !slices.Contains(joiners, e) || slices.Contains(named[:i], e) {
			return nil
		}
	}
	return slices.Clone(named)
}

// Decision is what the decider of a view change decided: a part every
// member of the next view receives, and a part for each member that only
// it receives. Parts are keyed by member; a member without a part gets
// none. The common part and each member's part are at most MaxDecisionPart
// each, and all of it at most MaxDecision.
type Decision struct {
	Common []byte
	Parts  map[Endpoint][]byte
}

// Size is the decision's length in bytes.
func (d Decision) Size() int {
	n := len(d.Common)
	for _, p := range d.Parts {
		n += len(p)
	}
	return n
}

// checkDecision checks a decision for next against the bounds.
func checkDecision(d Decision, next View) error {
	if len(d.Common) > MaxDecisionPart {
		return errDecisionSize
	}
	n := len(d.Common)
	for e, p := range d.Parts {
		if !next.Has(e) {
			return errors.New("membership: a decision has a part for a non-member")
		}
		if len(p) > MaxDecisionPart {
			return errDecisionSize
		}
		n += len(p)
	}
	if n > MaxDecision {
		return errDecisionSize
	}
	return nil
}

var errDecisionSize = errors.New("membership: decision larger than MaxDecision or a part larger than MaxDecisionPart")

// parts lists the decision's parts in next's order, for the wire.
func (d Decision) parts(next View) []part {
	var ps []part
	for _, e := range next.Members {
		if b, ok := d.Parts[e]; ok {
			ps = append(ps, part{E: e, B: b})
		}
	}
	return ps
}

// Identity is a peer's identity as an admission handshake authenticated
// it.
type Identity struct {
	// Provider names the kind of credential ("noise", "psk").
	Provider string
	// Name is the identity within the provider: a public key, a
	// principal. It is what admission checks and vetoes are keyed by.
	Name string
}

func (id Identity) String() string {
	if id == (Identity{}) {
		return "(none)"
	}
	return fmt.Sprintf("%s:%s", id.Provider, id.Name)
}

// IsZero reports whether id is the zero identity (no handshake ran).
func (id Identity) IsZero() bool { return id == Identity{} }

// Handshake is one side of an admission handshake, a pure state machine in
// the manner of wireguard-go's Create/Consume pairs: the initiator Creates
// first, then each side Consumes the other's message and Creates its own in
// turn, until one of the calls reports done. A Consume that fails must
// leave the handshake usable for a correct message (a forged one is
// dropped, not fatal); membership then abandons the attempt only at its
// deadline. Messages are at most MaxHandshakeMessage bytes; a handshake
// has at most MaxHandshakeMessages of them.
type Handshake interface {
	// Create returns this side's next message, and whether this side is
	// done once it is sent.
	Create() (msg []byte, done bool, err error)
	// Consume takes the peer's next message, and reports whether this
	// side is done.
	Consume(msg []byte) (done bool, err error)
	// Result is, once done, the peer's authenticated identity and a
	// secret bound to the transcript, at least 32 bytes, that only the
	// two sides know.
	Result() (peer Identity, secret []byte)
}

// Class says how a sealed control message is authenticated. Membership
// takes it from the inner message's type (classOf in auth.go), which the
// tag covers, never from a field a sender chooses freely; an Authenticator
// must make a tag of one class fail to open as the other.
type Class uint8

const (
	// Routine messages (Wait, and whatever only shows that a member is
	// alive) are authenticated under a key of the view that every member
	// holds (a MAC): an insider can forge them for another member, which
	// gives it no more than it has already (it can keep a dead member's
	// heartbeats going).
	Routine Class = iota + 1
	// Change messages change membership or its keys, decide or confirm a
	// view, or ask for a rekey: they must be bound to their sender (a
	// signature), so that no member can forge one for another.
	Change
	// Pairwise messages are Change messages that one member only ever
	// sends to one other (the replies to the coordinator): bound to their
	// sender for their recipient alone, which is all that a message no
	// third member ever reads needs. An Authenticator may make their tags
	// with a key only the two share (a MAC, far cheaper than a
	// signature), when it implements PairSealer; a tag that binds the
	// message to its sender for everyone (a signature) is as good.
	Pairwise
)

func (c Class) String() string {
	switch c {
	case Routine:
		return "routine"
	case Change:
		return "change"
	case Pairwise:
		return "pairwise"
	}
	return "unknown"
}

// Authenticator seals and opens the control messages of one view. msg is
// the whole control message, header (group, view, sender, sequence
// number) included; membership checks the replay window itself. Tags are
// at most MaxTag bytes. Open must compare in constant time.
type Authenticator interface {
	// Seal appends to dst the tag of msg as sent by this member, in class
	// c.
	Seal(dst, msg []byte, c Class) []byte
	// Open checks that tag authenticates msg, in class c, as sent by the
	// member of rank from (to this member, for a Pairwise message).
	Open(from int, msg, tag []byte, c Class) error
}

// PairSealer is an optional interface of an Authenticator whose Pairwise
// tags depend on the recipient: membership seals a Pairwise message to the
// member of rank to (in the authenticator's view) with SealTo instead of
// Seal. Seal then still makes a Pairwise tag that any recipient opens (a
// signature, say), for a caller that names none.
type PairSealer interface {
	SealTo(dst, msg []byte, to int) []byte
}

// Bounds of what participants may hand membership.
const (
	// MaxContribution bounds a member's contribution to a view change.
	MaxContribution = 16 << 10
	// MaxDecisionPart bounds the common part of a decision and each
	// member's part.
	MaxDecisionPart = 1 << 20
	// MaxDecision bounds a whole decision.
	MaxDecision = 4 << 20
	// MaxHandshakeMessage bounds one handshake message.
	MaxHandshakeMessage = 64 << 10
	// MaxHandshakeMessages bounds the messages of one handshake.
	MaxHandshakeMessages = 8
	// MaxTag bounds an authenticator's tag.
	MaxTag = 256
)
