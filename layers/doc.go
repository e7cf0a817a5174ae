// Package layers is the protocol stack engine of Conclave.
//
// A group endpoint is a stack of layers, composed at run time from an ordered
// list, bottom (the transport adapter) first:
//
//	application            ▲ Delivery        │ Cast / Send
//	┌──────────────┐       │                 ▼
//	│ frag         │  split and reassemble large messages
//	│ mflow        │  sender window bounded by stability
//	│ total        │  (optional) one delivery order for all, by a sequencer
//	│ stable       │  ack gossip, stability vectors
//	│ pt2pt        │  reliable FIFO point-to-point
//	│ mnak         │  reliable FIFO multicast, NAK + retransmission
//	│ bundle       │  pack small messages into one datagram
//	│ bottom       │  datagram header, adapter to the transport
//	└──────────────┘       ▲ Receive         │ Packet
//	network                │                 ▼
//
// Events travel up (from the network) and down (from the application). Each
// layer adds its own header on the way down and removes it on the way up.
//
// A stack serves one view, a fixed list of members; package membership
// builds a new one for each view and runs the view changes around them.
// What a view change needs from a stack (counts, cuts, the exclusion of
// leaving members, a block on ordering) is one interface, Flush, returned
// by Stack.ViewFlush; each of its capabilities comes from the layer that
// provides it (Cutter, Excluder, Acknowledger, Blocker, Framer), so the
// membership protocol knows no layer by name. The view's key material
// reaches the layers in Config.Keys, and the stack releases it when the
// view ends (see Keys).
//
// Layers register themselves (Register): a name, a documented position
// (Placement: bottom first, encrypt directly above bottom, sign directly
// above mnak, private directly above pt2pt) and a constructor from options.
// A security layer whose header does not fit the shared head room says how
// much it adds (Roomer), and the layers that fill datagrams leave it free. Package compose builds a
// stack from a list of registered names and checks their positions.
//
// Every layer is a pure state machine: it has no goroutines, sockets, wall
// clock or global randomness. Time reaches it through Tick and Port.Now,
// randomness through Port.Rand. A Stack is not safe for concurrent use; one
// goroutine drives it (the runtime in the root package over UDP, or the
// deterministic simulator over the in-memory network). The driver's contract,
// as in etcd/raft:
//
//  1. feed inputs: Receive (a datagram), Cast and Send (from the
//     application), Tick (time), Flush (the driver has no more input for now);
//  2. collect outputs with Ready: packets for the transport and deliveries for
//     the application;
//  3. hand them on, then call Advance, after which the stack may reuse the
//     packets' buffers.
//
// # Hostile input
//
// Any datagram may be hostile. Every sequence number, count and length a
// layer reads from one is checked against the receiver's window or a stated
// bound before any arithmetic or allocation; input that fails is dropped
// and counted by reason (Port.Drop, the "drop.*" counters), and Receive then
// reports the datagram as not accepted (a mere duplicate is counted with
// Port.Ignore and leaves it accepted). The memory a member keeps for what
// it receives is bounded, and what an attacker can inflate shrinks back or
// times out. Footprint and FootprintBound measure it; with N members,
// datagrams of D bytes (MaxDatagram, 1400) and messages of M bytes
// (MaxMessage, 64 MiB), a slot of S bytes (seqlog.SlotSize, 136):
//
//	layer   state                       bound (defaults)
//	bottom  none; drops datagrams > D   -
//	encrypt replay window and keys per  N·(280 + 6·1024): window
//	        member                      encrypt.ReplayWindow, AEADs of
//	                                    MaxGenerationsAhead+2 generations
//	bundle  send buffers (fixed)        (1+N)·D; < D/3 frames per bundle
//	mnak    ring per other origin       (N-1)·(2^13·S + 2^13·D): window
//	        (MaxHeld 2^13), shrinks     MaxHeld; known counts capped too
//	        NAK answers per requester   N·seqlog.ServedSize; each message
//	                                    once and at most 512 per 4 ms
//	pt2pt   ring per peer, delivered    N·(2^11·S + 2^11·D): window
//	        messages released at once   2·Window; NAK answers as mnak
//	stable  ack vectors                 N²·8; counts believed up to
//	                                    MaxHeld ahead, MaxSeen never past
//	                                    the origin's own count
//	total   ORDER runs waiting          2^13·N runs of 16 bytes
//	        casts waiting for an ORDER  not bounded here: they are
//	                                    delivered casts, and grow only
//	                                    while the sequencer stops ordering
//	sign    unsigned casts held per     N·MaxBatch·D (MaxBatch 128; below
//	        sender until the batch's    frag, a cast is one datagram),
//	        signature comes             timed out when unsigned
//	private one key per pair direction  2·N keys
//	mflow   own casts (flow control)    not network state; Backlog
//	frag    one reassembly per sender   2·N·M, timed out after 30 s
//	        and kind, grows with data
//
// A member's own multicasts and sends are held until stable or
// acknowledged; flow control (mflow, pt2pt's Window) and the driver's
// backlog bound them, not the network, so they are not part of Footprint.
//
// Layers emit events through their Port. Emission is a synchronous call into
// the neighbouring layer, so a message reaches the bottom (where its bytes are
// copied into a datagram, or, written into a buffer from Port.Buffer, become
// one) before the emitting layer continues; a layer must
// therefore finish updating its own state before it emits.
package layers
