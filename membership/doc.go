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
//	│   │ stack of view V   │   │  and merges; a Participant hook for
//	│   └───────────────────┘   │  the layers above (admission, keys)
//	└───────────────────────────┘
//	       transport
//
// A view change (coordinator.go, participant.go) blocks the members, has
// each report how many multicasts it delivered from each sender, brings
// every survivor to the same cut (the most any survivor delivered, fetched
// from a member that has it), and installs the next view everywhere:
// members that move together from one view to the next delivered the same
// messages in the first. Any change during a view change starts a new
// round with a new proposal, so a view id always names one member list, and
// a member that gets stuck goes on alone and merges back (merge.go).
//
// Like the layers, a Member is a pure state machine: time, input and
// randomness are given to it, and its outputs are collected with Ready; the
// root package drives it over UDP, the simulator over an in-memory network.
package membership
