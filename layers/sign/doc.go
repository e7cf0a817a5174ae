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
// signature in the last one's header. It rides in a message of the batch,
// not in one of its own, because the stability layer counts each origin's
// deliveries in mnak's numbering: a message this layer kept to itself
// would put the counts out of step, and mnak would never release what they
// name. That last message may be a full fragment, so the layer that fills
// datagrams must leave Room below MaxDatagram.
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
// Other events pass through untouched. Point-to-point messages are the
// private layer's: each pair direction's key is made by the sender, who
// signs it, and only the recipient can open it, so a Send that opens came
// from its claimed sender. The layers' own control traffic (stability
// gossip, NAKs, acknowledgements) is proved by encrypt to come from some
// member, not which: an insider can forge it to deny service (make a
// member ask again, or wait), never to have a message delivered.
//
// # Delay and cost
//
// A multicast waits at its sender at most Interval plus one driver tick
// (1 ms each by default), and not at all when the sender has signed
// nothing for Interval; its batch then travels as the plain stack's
// messages do (bundled, in one pass of the driver), so the delay added to
// an unloaded group is one signature and one verification (Ed25519 here:
// 15 to 25 µs and 37 to 70 µs of CPU, as loaded as the machine is), and
// to a busy sender's messages at most Interval plus a tick more. CPU per
// message: one SHA-256 pass over it at the sender and at each receiver,
// plus a share of one signature (sender) or one verification (each
// receiver) per batch; a sender of 100 multicasts per millisecond signs
// batches of 100, under 1 µs a message in signatures. BenchmarkCast
// measures it against the plain stack (about +1 µs per message at 64
// bytes, +2.5 µs at 1 KiB, over 0.4 and 1.1 µs), BenchmarkIdleLatency the
// unloaded path (about +80 µs of CPU).
//
// # View changes
//
// The layer is the stack's layers.Blocker: when a view change blocks the
// stack, before it takes the member's count of multicasts, the open batch
// is signed and sent, and every later multicast of the view goes at once,
// so that every message the count includes carries its signature within
// the count. Survivors decide alike: a batch whose signature lies beyond
// the cut (its sender failed while sending it) is delivered by none of
// them. At the view's end the layer drops the batch it has not sent, which
// no member delivered, the sender included ("unsent_at_view_end"), and
// what it holds unsigned ("unsigned_at_view_end").
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
