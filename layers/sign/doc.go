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
// A sender signs its multicasts in batches, by group commit. A multicast
// from above joins the open batch, which is signed when
//
//   - the driver flushes (EFlush), which it does when it has no more input
//     for now: what came in its pass is signed at once, however little.
//     An idle sender's multicast is signed alone, without waiting; a busy
//     sender's multicasts pile up while its driver works through earlier
//     input (signing the previous batch among it), and flow control lets
//     held ones through together, so batches grow with the load with no
//     timer to set;
//   - a Tick finds the batch's first message Interval old, for a driver
//     that does not flush;
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
// that does not is refused whole ("forged", see Refusals below), and mnak
// fetches its messages again. The sequence number and view
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
// A multicast waits at its sender only until the flush that ends the
// driver's pass in which it came; the batch then travels as the plain
// stack's messages do (bundled, in that same pass), so the delay the layer
// adds to an unloaded group is one signature and one verification
// (Ed25519 here: 15 to 25 µs and 37 to 70 µs of CPU, as loaded as the
// machine is). Under load it waits for the rest of its driver's pass (the
// input taken with it) and its batch's signature, never for a timer. The
// signing rate is not bounded: a receiver that falls behind verifying
// delays the stability its sender's flow control waits for, the sender's
// window fills, and what the window then lets through goes in one batch,
// so batches grow where verification is short of CPU (full-load benches
// show about 100 multicasts a batch).
//
// CPU per message: one SHA-256 pass over it at the sender and at each
// receiver, plus a share of one signature (sender) or one verification
// (each receiver) per batch. BenchmarkCast measures it against the plain
// stack for batches of 20 and of 100 (what one pass of the driver
// brings): at 64 bytes 5.6 and 1.7 µs a message, over 0.5 µs plain; at
// 1 KiB 7.4 and 3.9 µs, over 1.6 µs (a loaded machine).
// BenchmarkIdleLatency measures the unloaded path: about +80 µs of CPU.
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
// messages per origin (when one more comes, no batch can cover them all:
// they are refused, see below), keeps them at most UnsignedTimeout, and
// drops them at the view's end ("unsigned_at_view_end"): memory per
// member, stated,
// (N-1)·MaxBatch·(MaxDatagram + a Message's 128 bytes), and the message
// bytes are those mnak keeps anyway. A header that does not parse is
// "malformed"; a signature whose count does not cover exactly what is
// held (it reaches back past it, or leaves older messages in no batch) is
// "bad_proof"; a signature that fails is "forged".
//
// # Refusals
//
// mnak takes the first copy of each (origin, sequence number) it gets and
// drops later ones as duplicates, and any member can send a copy in any
// origin's name (encrypt proves only that some member sent it). So when a
// batch fails, for any of the reasons above, the copy of some message in
// it, or of the one that should have ended the batch before it, is not
// the origin's, and the real one was taken as a duplicate. The layer
// therefore refuses: it drops what it holds of the origin and the message
// at hand, sets its numbering of the origin's stream back to the oldest
// of them, and sends ERefuseCast down with that number, in the same call
// that delivered the bad copy; mnak forgets its copies from that number on
// (so it no longer hands them to members that ask), sets its delivered
// count back, so that a view change's cut is not reached until they come
// again, and asks for them as for a gap ("refused" here and in mnak,
// "refetch" the messages mnak asks for again). The real messages are
// still held by their origin and by every other member: the stability
// layer sits above this one and counts only what it delivered.
//
// A copy marked as one more of a batch in the place of the batch's last
// message reveals itself later: held messages are refused too when they
// would be more than MaxBatch ("overlong"); when the stability layer's
// MaxSeen shows that some member delivered a message held here, and this
// member has received as many as any member delivered, for
// OvertakenAfter ("overtaken", an idle origin sends nothing more that
// would end the batch; the wait is for the origin's own gossip, which can
// count a batch half gone down); when a view
// change cuts an origin at its own count, where every one of its batches
// is complete (Settle, "settled"); and after UnsignedTimeout
// ("unsigned_timeout").
//
// An insider can still delay a member: one that races every
// retransmission with another bad copy makes it refuse again each time,
// at the cost of a verification and a refetch per copy that arrives first,
// each counted. It cannot have a forgery delivered, nor make the member
// deliver less than the others in the view.
package sign
