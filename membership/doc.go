// Package membership is the group membership protocol of Conclave: views,
// joins, leaves, failure detection, partition merges, and the view-change
// flush that gives virtual synchrony.
//
// A Member wraps the stack of its current view (package layers): a view is
// (view id, ordered members), the first member is the coordinator, and each
// view has a stack of its own, built when the view is installed and ended
// when the next one is. Datagrams of the stack carry the view's id, so those
// of any other view are dropped; the protocol's own control messages travel
// beside the stacks, one per datagram (wire.go).
//
//	       application
//	┌───────────────────────────┐
//	│ Member                    │  failure detector, coordinator and
//	│   ┌───────────────────┐   │  participant of view changes, probes
//	│   │ stack of view V   │   │  and merges; a Participant for the
//	│   └───────────────────┘   │  layers above (admission, keys,
//	└───────────────────────────┘  control message authentication)
//	       transport
//
// The member drives its stack through one interface of the stack's,
// layers.Flush (what was sent and delivered, the cut, the block), and
// imports no layer. What a member is doing is its role (role.go): member,
// participant or joiner of a view change, coordinator of one, or left;
// each role has its tick and step functions, and changes only through
// the become functions:
//
//	member ──Flush──▶ participant ──coordinator suspected──▶ coordinator
//	  │ ▲                 │                                   │   ▲
//	  │ └────Install──────┘◀──────────── finishRound ─────────┘   │
//	  ├──Flush of another view (admitted)──▶ joiner ──Install──▶ member
//	  └──────────────────────────── startRound ────────────────────┘
//	(any) ──leave done, or a view without it──▶ left
//
// A view change (coordinator.go, participant.go) blocks the members, has
// each report how many multicasts it delivered from each sender, brings
// every survivor to the same cut (for a sender that survives, what it
// reported sending, fetched from it; for one that does not, the most any
// survivor delivered, fetched from a member that has it), and installs
// the next view everywhere: members that move together from one view to
// the next delivered the same messages in the first. Any change during a
// view change starts a new round with a new proposal, so a view id always
// names one member list, and a member that gets stuck goes on alone and
// merges back (merge.go).
//
// # Participants: admission, decisions, keys, authentication
//
// With a Participant (hooks.go), a merge request is admitted by the
// participant's handshake before the absorbing coordinator blocks, and
// before the absorbed one blocks a view of more than itself
// (admission.go), probes tell outsiders nothing of the membership but the
// coordinator (merge.go), every view change has a prepare step in which each
// member of the next view processes the decision (a common part and its
// own part) and confirms it before anyone installs (coordinator.go), the
// keys the participant returns at installation go into the new stack's
// layers.Config.Keys, and control messages between members are sealed by
// the view's authenticator with replay protection (auth.go), in a class
// taken from the message's type: Change (sender-bound for every member)
// for whatever can act for its sender and goes to several members,
// Pairwise (sender-bound for its one recipient, sealed for it) for the
// replies and requests one member only ever sends to one other, Routine
// (a key of the view) for Wait. Rekey rounds
// (rekey.go) change the view id and the decision without changing the
// members. A participant that is a Describer names each view's members'
// identities and key epoch: the ViewChange event carries them, and a
// KeyChange event with the reason follows it (events.go). Without a participant none of this runs and control messages
// are trusted on their source address.
//
// # Strangers, cookies and amplification
//
// Anyone may send a member datagrams, with any source address. A stranger
// (an address that has not proven it receives: not a member, not a peer a
// cookie round trip proved) is answered only at its source, with at most
// three times the bytes it sent, and leaves no state behind; nothing is
// ever sent to an address a stranger's datagram names. Views merge only
// after a cookie round trip (cookie.go, merge.go): the absorbed view's
// coordinator proves the absorbing one's address before its members block,
// each of its members fetches a cookie from the absorbing coordinator, and
// that coordinator blocks only for a MergeReq whose sender's cookie it
// checks, and takes in only the members whose cookies it checks. A cookie
// is an HMAC-SHA256 tag under a per-member random secret, rotated every
// CookieBucket (10 s), over the address and the time bucket; it is
// accepted for 10 to 20 s, and compared in constant time.
//
// A peer that proved its address and then stalls a merge (a joiner silent
// in its round, a coordinator that never absorbs this view) is shunned
// for Timing.Merge, then twice as long each time again, up to 32 times.
// Addresses a stranger names are never sent anything; only seeds and
// members of views this member was in may name a coordinator to probe.
//
// A datagram counts as a sign of life only once it has parsed: a control
// message once decoded, a datagram of the stack once the stack took it.
// Control messages are dropped, and counted by reason (drop.stranger.<type>,
// drop.merge_req_unproven, drop.amplification, drop.malformed_control,
// drop.forged_control, drop.other_group), when they come from where they
// may not. Without a participant, a datagram from a member's spoofed
// address can still do what that member could (leave, say); with one,
// members' control messages are sealed and an unsealed one in a member's
// name acts as nobody's (auth.go).
//
// # Bounds
//
// Every count and length on the wire is bounded before anything is
// allocated for it (wire.go): lists at MaxMembers (256), contributions
// at 16 KiB, a decision's common part and each member's part at
// MaxDecisionPart (1 MiB) and the whole at MaxDecision (4 MiB),
// confirmations at 1 KiB, handshake messages at MaxHandshakeMessage
// (64 KiB) and MaxHandshakeMessages (8) per handshake, authenticator tags
// at MaxTag (256 bytes), cookies at exactly 17 bytes, probe padding at 1 KiB, logical
// times at MaxLTime (2^62; a view id from a stranger or in a member's
// Flush more than 2^32 ahead of every view this member has known is
// refused, so that the next view id never wraps around); encoding
// refuses what decoding would, and a participant's decision out of
// bounds fails the round (counted as decide_oversize, logged as a
// warning) instead of being sent. A control datagram is at most
// MaxControlDatagram (40 KiB); a control message longer than 32 KiB (a
// decision, a large handshake message) goes in fragments of 32 KiB, each
// sealed on its own, and is at most MaxDecision plus 64 KiB
// (fragments.go).
// The state others can make a member hold is bounded:
//
//	known addresses     the seeds, plus at most 512 learnt ones; a learnt
//	                    address not heard from for Timing.Forget (5 min)
//	                    is forgotten, the least recently heard one makes
//	                    room when full; seeds stay
//	merge requests      at most 16, each naming at most 256 members,
//	                    forgotten after Timing.Merge unless their members
//	                    are in the round under way
//	vetoed endpoints    at most 256, oldest forgotten first
//	shunned addresses   at most 64, the one whose ban ended first
//	                    forgotten first
//	a round (coord.)    survivors and joiners at most 256 each; replies,
//	                    progress notes, cookies only from them
//	joiners pending     at most 256 per round (the next view's size)
//	announce state      the members of the new view yet to acknowledge it,
//	                    at most 256, dropped after Timing.Stuck
//	reassembly          one control message per sender, at most 512 at
//	                    once and four of the largest (about 16 MiB) in all,
//	                    dropped after Timing.Flush
//	admissions          at most 16 handshakes at once, each abandoned
//	                    after Timing.Flush without progress or
//	                    Timing.Merge in all
//	pairwise sealings   at most 272, the oldest forgotten first; unused
//	                    for 2×Timing.Stuck, forgotten
//	replay windows      one per member of the current and previous view
//	vetoed identities   at most 256, oldest forgotten first
//
// Footprint reports how many entries of this state a member holds, and
// FootprintBound the most it can hold.
//
// Like the layers, a Member is a pure state machine: time, input and
// randomness are given to it, and its outputs are collected with Ready; the
// root package drives it over UDP, the simulator over an in-memory network.
package membership
