// Package sign is sender authentication: with it in a stack, no member
// can forge or alter another member's multicasts, though every member holds
// the group's keys (the encrypt layer proves only that some member of the
// epoch sent a datagram) and retransmits the others' messages.
//
// It sits directly above the reliable multicast layer (mnak), so that what
// it signs is what that layer keeps, retransmits and delivers: a signature
// travels with its message end to end, through any member's retransmission.
//
// # Protocol
//
// A sender signs its multicasts in batches. A multicast from above joins
// the open batch, which waits; the batch is signed when
//
//   - the driver flushes (EFlush) and Interval has passed since the last
//     signature: an idle sender's multicast is signed at once;
//   - a Tick finds the batch's first message Interval old: a busy sender
//     signs about once per Interval;
//   - it holds MaxBatch messages;
//   - the view change blocks the stack (Block): the count of multicasts it
//     takes must include every message signed.
//
// The signature covers SHA-256 over (group, view, the sender's rank, the
// sequence number of the batch's first message in the sender's multicast
// stream, the count, then each message as its 8-byte length and bytes),
// signed with the sender's signature key under Label (the suite's
// labelled signature). The batch's messages go down together, the
// signature in the last one's header.
//
// A receiver gets each origin's multicasts from mnak in order, each once,
// so it numbers them as the sender did. It holds messages until one
// carries a signature, then hashes that message and the count-1 before it
// and verifies the signature with the origin's public key: one
// verification per batch. A batch that verifies is delivered in order; one
// that does not is dropped whole ("forged"). The sequence number and view
// in the signed content keep a batch from being replayed anywhere else in
// the stream or in another view.
//
// Header on ECast, then the message from above:
//
//	0  more: a batch's message, not its last
//	1  last: count uvarint (1 … MaxBatch), signature length uvarint
//	   (1 … MaxSignature), signature
//
// Other events pass through untouched: the layers' own unreliable traffic
// (gossip, NAKs) proves only membership, which costs an insider nothing it
// could not do by sending; point-to-point messages are the private
// layer's (a key only the two members derive), not this one's.
//
// # Delay and cost
//
// A multicast waits at its sender at most Interval plus one driver tick
// (1 ms each by default) and none when the sender was idle for Interval;
// its batch then reaches a receiver in one pass (bundled datagrams), so the
// added delay is that wait plus one signature and one verification
// (Ed25519: about 15 µs and 37 µs here). CPU per message is one SHA-256
// pass over it at each end plus a signature's share of the batch.
//
// # Hostile input
//
// Every number read is bounded before use: the count by MaxBatch, the
// signature's length by MaxSignature. A receiver holds at most MaxBatch
// messages per origin (the oldest goes, "unsigned", when more come, since
// no batch can cover it), keeps them at most UnsignedTimeout
// ("unsigned_timeout"), and drops them at the view's end
// ("unsigned_at_view_end"): memory per member, stated,
// (N-1)·MaxBatch·(MaxDatagram + a Message's 128 bytes), and the message
// bytes are those mnak keeps anyway. A header that does not parse is
// "malformed" and takes the held messages before it with it (no batch can
// contain them); a signature whose count reaches back past what is held is
// "bad_proof"; a signature that fails is "forged". An insider can still
// deny service: a forged message that reaches a member before the real one
// takes its place in mnak's stream there, and the batch is then dropped
// at that member, detected and counted, but not delivered.
package sign
