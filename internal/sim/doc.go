// Package sim is Conclave's deterministic simulator: a whole group of
// members (the membership protocol around each view's protocol stack) in
// one goroutine, on the in-memory network, under a virtual clock, with
// every random choice drawn from one seed.
//
//	  workload, membership faults (seeded)     Checker (invariants)
//	       │ Cast, Send, Leave, crash, start         ▲ Event, Consent
//	┌──────▼─────────────────────────────────────────┴──────────┐
//	│ membership.Member per process                             │
//	│ Receive, Tick, Flush, Ready, Advance                      │
//	└──────┬─────────────────────────────────────────▲──────────┘
//	       │ Packet                                  │ datagram
//	┌──────▼─────────────────────────────────────────┴──────────┐
//	│ transport.Network: loss, dup, reorder, delay, partitions  │
//	└───────────────────────────────────────────────────────────┘
//
// Run advances the clock in fixed steps. Each step applies the membership
// faults that have fallen due, delivers the datagrams that have, ticks
// every running member, injects the workload's messages, flushes the
// members, hands their packets to the network and their events to the
// Checker. Nothing in a run reads the wall clock, starts a goroutine, uses
// global randomness or depends on map order, so a run is a pure function
// of its Config: a failing seed replays exactly, and the Result's Trace
// hash proves it. RunLog writes down everything that happens, for
// debugging one seed.
//
// A run goes through phases. The members start alone, each knowing the
// others' addresses, and must form one view (forming). Then they send the
// workload while the membership faults strike: crashes, restarts as new
// endpoints, partitions, joins, leaves (active). Then the faults stop and
// partitions heal, and the live members must converge to one view (quiet);
// then each casts a few messages and sends one to each other member, which
// all must deliver (final). Forming and quiet are bounded by
// Config.Converge, final by Config.Deadline: the liveness checks. Network
// faults stay on throughout.
//
// The Checker holds every member's event stream to virtual synchrony: a
// view id names one member list; each member installs views in increasing
// id order; every member of an installed view agreed to it; members moving
// together from one view to the next delivered the same messages in it (in
// the same order under total order); delivery is FIFO and exactly once per
// sender, with the bytes sent, only from members of the receiver's view; a
// member delivers its own multicast in the view it sent it in, and all of
// them eventually. Without membership faults, every message must also reach
// every member.
//
// With Config.Secure every member has membership/secure's participant
// (secure.go): a Noise key drawn from the seed, admitted against the allow
// list of the run's keys; every view change commits an MLS epoch that every
// member of the next view processes and confirms before any installs it;
// control messages are signed by their sender, MACed under a key of the
// sender and its recipient alone (a reply to one member), or MACed under
// the view's epoch (routine ones); the group rekeys during the active phase. With Config.Participant
// they have membershiptest's toy participant instead (participant.go),
// which exercises the same seams with a pre-shared key. Either way secrets
// come from the seed, so runs stay reproducible, and the Checker holds
// every installation to the participants' records (Decisions): a view is
// installed with an epoch, the same at every member (compared by digest),
// that every member of the view confirmed first; and no process holds the
// epoch of a view it did not install or is not in (decisions.go).
//
// With Config.Attackers an adversary (adversary.go) attacks every phase
// but the drain with datagrams from internal/hostile: in members' names,
// from strangers' addresses (some of which read what members send them
// and prove their address with the cookies they get), and replays of
// recorded traffic. The run then
// also checks that no member panics (a panic is a violation, and the
// member counts as crashed), that each holds no more state than its
// stated bound (layers.Stack and membership.Member Footprint), that none
// sends a stranger more than 3 times the bytes it received from it or
// anything to a third address named only inside a hostile datagram, and
// that none retransmits a message to a requester more than once per NAK
// interval; the checks above still hold, so the attacks must not make a
// member deliver what was not sent, nor stall or split the group. A
// datagram in a member's name never uses a sequence number that member
// may still send: before authentication exists such an in-window forgery
// is something the member could do itself, and the Checker would report
// the real message it displaced, so it is out of scope; so are unsealed
// control messages in a member's name (a forged Leave does what the member
// could).
//
// With Config.Secure too, the attackers of the secure group join in
// (attackers.go): outsiders that run the protocol with a Noise key not on
// the allow list, or with none, and try to join throughout; replays of
// sealed control messages that members accepted; ex-members (every
// process that left or crashed) that keep their keys, process the commits
// of later views and seal control messages with their old keys; insiders
// that forge another member's Suspect or Leave with their own keys. Each
// attempt is counted by attacker and reason (Result.Attempts); one that
// succeeds is a violation.
//
// A secured run's stacks protect the data plane as a secured group's do
// (dataplane.go): encrypt seals every datagram under the view's epoch,
// private every Send for its recipient, and with Config.SenderAuth sign
// signs every multicast. The Checker records every key and nonce sealed in
// the run and reports one sealed twice. With Config.Attackers, ex-members
// keep the keys of their last views, and joiners those of their first,
// and try them on recorded data datagrams of other views: none may open;
// and outsiders send recorded data datagrams again from their senders'
// addresses, as recorded and altered: none may be taken twice or altered.
// Insiders also forge Sends between two other members in the sender's
// name (sendforger.go), altered at their pt2pt number or replayed at a
// later one: none may open, and the recipient must still deliver the real
// ones, which its private layer refuses the forgeries for and pt2pt
// fetches again.
//
// With Config.SenderAuth and Config.Attackers, insiders attack sender
// authentication itself (signforger.go): a member opens another's
// multicast as it goes out and sends a third member, as its own
// retransmission sealed under its own next nonce, the message altered or
// a message claiming its origin at another of its sequence numbers. The
// Checker then reports any multicast delivered that its claimed sender
// did not multicast at that index with those bytes (Result.Forged), and
// excuses nothing: a forgery its target kept in the place of the real
// message is refused there and the real one fetched again, so the target
// must deliver the victim's whole stream, in the same order as the
// others under total order.
package sim
