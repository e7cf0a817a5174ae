// Package transport moves datagrams between the members of a process group.
//
// It is the bottom of the conclave stack: the protocol layers and the
// membership machine above it only ever see a [Conn], a datagram endpoint
// that sends and receives whole batches at a time. Nothing above this
// package knows whether the datagrams travel over real sockets or through
// memory.
//
//	membership, layers (pure state machines)
//	        │ Outgoing / Incoming batches
//	     transport.Conn
//	   ┌────┴──────────────┐
//	UDPConn            MemConn ── Network (in-memory, faulty, seeded)
//	(sendmmsg/recvmmsg)
//
// [UDPConn] is the production endpoint: real UDP sockets, batched with
// sendmmsg and recvmmsg on Linux and one system call per datagram elsewhere.
//
// [Network] is a deterministic in-memory network for tests and simulation.
// Driven directly through [Network.Send] and [Network.Due] it is a pure
// function of its seed and the calls made on it, with time supplied by the
// caller, so a simulation can be replayed exactly. It injects loss,
// duplication, delay, reordering and partitions. [Network.Endpoint] wraps it
// in a [Conn] for goroutine-driven code that runs in real time.
//
// Every Conn has a largest datagram it delivers; longer ones are dropped
// whole and counted, never truncated (see [Conn.ReadBatch]), so the layers
// above can bound what one datagram makes them hold or send.
//
// Addresses are [netip.AddrPort] values throughout: they are comparable, so
// they can key maps, and handling them does not allocate.
package transport
