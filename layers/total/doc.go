// Package total is totally ordered multicast by a sequencer: within a view,
// every member delivers the view's multicasts in the same order, which is
// consistent with each sender's FIFO order.
//
// It sits above the reliable FIFO multicast and the stability layers and
// below flow control and fragmentation (compose.Total):
//
//	frag     reassembles per origin, so interleaved origins are fine
//	mflow
//	total    ◀ holds casts until an ORDER names them
//	stable
//	pt2pt
//	mnak     delivers each origin's casts in FIFO order, exactly once
//	bundle
//	bottom
//
// # Protocol
//
// The sequencer is rank 0 of the view. Every multicast coming up from mnak
// is held in a queue per origin. As casts reach the sequencer (its own too:
// mnak delivers a sender's multicast locally at once) it records their
// origins in a batch, and multicasts the batch as an ORDER message when it
// sees an EFlush going down (the driver is idle, as for bundling), when the
// batch names MaxBatch casts, or when it would no longer fit a datagram.
// An ORDER is itself a reliable multicast through mnak, so every member
// receives the sequencer's ORDERs in the order they were sent, the sequencer
// included (mnak delivers its own ORDER back to it locally). Each member
// applies the ORDERs in that order: a run (origin, count) delivers the next
// count held casts of origin. When a run names a cast that has not arrived
// yet, the member waits for it (mnak brings it) and applies nothing after
// it meanwhile. The delivered sequence is therefore, at every member, a
// prefix of the one sequence the ORDERs define, and grows as casts arrive.
//
// Point-to-point and unreliable events pass untouched; ORDER messages are
// consumed here and never delivered up. In a view of one member, casts are
// delivered as they come and no ORDER is sent.
//
// # Headers
//
// On ECast, one tag byte:
//
//	0 DATA   then the message of the layers above
//	1 ORDER  then runs, each origin uvarint (< view size) and count uvarint
//	         (≥ 1), adjacent runs of different origins, at least one run,
//	         counts adding up to at most MaxOrderCount
//
// ParseOrder accepts the canonical encoding only. A malformed cast, or an
// ORDER from any member but the sequencer, is dropped and counted. Since
// mnak gives every member the same bytes of each cast, every member drops
// the same ones, and the sequencer's ORDERs never count them.
//
// # End of a view
//
// The stack's EndView sends EViewEnd down from the top after the membership
// protocol has brought every surviving member to the same cut of every
// origin's stream: the same casts of every origin and, since ORDERs are the
// sequencer's casts, the same prefix of the sequencer's ORDERs. On EViewEnd
// the layer forgets the ORDER runs it could not apply and delivers every
// cast it still holds, by origin rank and then in FIFO order; then it
// passes EViewEnd down.
//
// Members that move together to the next view deliver the same sequence:
// what a member has delivered by the end is the longest prefix of the
// sequence defined by the ORDERs it holds whose casts it holds too, a
// function of those two sets only, which the surviving members share. What
// remains held is the same set at each of them, and is delivered in the
// same deterministic order. This holds whether the sequencer survives or
// not: if it fails, its ORDERs beyond what any survivor received are lost
// alike for all, and an ORDER naming casts of a failed origin beyond the
// cut blocks alike at all.
//
// The sequencer's own count of multicasts must not grow after it has
// reported it to the view change: otherwise it would apply an ORDER the
// others never deliver (the membership protocol refuses a cut below what a
// member has delivered, and so would exclude it). A view change therefore
// calls Block on the sequencer's layer before it reads mnak's Sent; from
// then on the sequencer orders nothing and the casts it has not ordered are
// delivered at the view's end as above.
//
// # Stability
//
// The sequencer's ORDERs are multicasts of its stream, counted by the
// stability layer. This layer rewrites, in the EStable reports it passes up
// at the sequencer, the sequencer's own entries so that they count only data
// casts, as flow control above expects. It reuses an ORDER's body once the
// report shows it stable, when mnak has released it.
//
// # Performance
//
// The per-message path does not allocate: held casts sit in per-origin
// queues (internal/queue: ring buffers that grow and shrink back; a cast as
// a body and the few header bytes pushed above, not a whole Message),
// ORDER runs in another queue, the batch in a reused slice, ORDER
// bodies are recycled through stability, and events come from
// Port.NewEvent.
//
// ORDERs are not subject to flow control (mflow is above), but there is at
// most one per driver pass or MaxBatch casts. Flow control counts stability
// as mnak delivers, so casts held here for an ORDER that a member has lost
// are bounded by how quickly mnak recovers it, not by the window itself.
package total
