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
// Layers emit events through their Port. Emission is a synchronous call into
// the neighbouring layer, so a message reaches the bottom (where its bytes are
// copied into a datagram) before the emitting layer continues; a layer must
// therefore finish updating its own state before it emits.
package layers
