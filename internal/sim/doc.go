// Package sim is Conclave's deterministic simulator: a whole group of
// protocol stacks in one goroutine, on the in-memory network, under a
// virtual clock, with every random choice drawn from one seed.
//
//	     workload (seeded)            Checker (invariants)
//	          │ Cast, Send                  ▲ Delivery
//	┌─────────▼─────────────────────────────┴──────────┐
//	│ layers.Stack per member                          │
//	│ Receive, Tick, Flush, Ready, Advance             │
//	└─────────┬─────────────────────────────▲──────────┘
//	          │ Packet                      │ datagram
//	┌─────────▼─────────────────────────────┴──────────┐
//	│ transport.Network: loss, dup, reorder, delay     │
//	└──────────────────────────────────────────────────┘
//
// Run advances the clock in fixed steps. Each step delivers the datagrams
// that have fallen due, ticks every stack, injects the workload's messages,
// flushes the stacks, hands their packets to the network and their
// deliveries to the Checker. Nothing in a run reads the wall clock, starts a
// goroutine, uses global randomness or iterates over a map, so a run is a
// pure function of its Config: a failing seed replays exactly, and the
// Result's Trace hash proves it.
//
// The Checker holds the group to its guarantees: every multicast is
// delivered exactly once to every member, the sender included, in the
// sender's order and with the bytes that were sent; every point-to-point
// message exactly once, in order, to its destination only; nothing that was
// never sent; and, since faults stay on after the workload ends, everything
// before a virtual deadline.
package sim
