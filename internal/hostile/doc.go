// Package hostile builds the datagrams an attacker sends to a Conclave
// member, in the real wire formats of the protocol stack (layers/bottom,
// bundle, mnak, pt2pt, stable, total, frag) and of the membership
// protocol's control messages, with the values a mutation fuzzer never
// reaches by flipping bits: 10-byte and non-minimal varints, 2^64−1 and
// its neighbours, sequence numbers at the edges of a receiver's window,
// NAKs for the largest ranges, bundles packed to the limit with tiny
// frames, first fragments claiming 64 MiB, ORDER floods, stability gossip
// with huge values, and control messages from strangers that name third
// addresses.
//
// Every choice is drawn from a Source: a seeded *rand.Rand in the
// simulator's adversary, the fuzzer's input (Bytes) in the whole-stack fuzz
// target, so that the fuzzer steers structure and numbers rather than raw
// bytes only. The Target says what the attacker knows of its victim (the
// group, the view, the receive windows), which an eavesdropper on the
// unencrypted stack learns from the traffic.
//
// Target.Datagram builds stack datagrams; Stranger.Control builds control
// messages from a stranger, and Stranger.Merge and Stranger.Claim those of
// a stranger that read a member's answer (ReadAnswer) and proves its
// address with the cookie in it; Retransmissions reads a member's outgoing
// datagrams to account for the retransmissions the attack caused. Under Target.Safe the
// generator keeps away from what could displace a legitimate message (a
// sequence number the real sender may still use), which the simulator
// needs when it spoofs a member's address: such an in-window forgery is
// something that member could do itself before authentication exists, and
// no defence short of authentication stops it.
package hostile
