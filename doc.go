// Package conclave is the public API of Conclave: secure process groups
// with agreed membership and reliable, ordered multicast.
//
// A member joins with Join and gets a *Group: Multicast sends to every
// member (itself included), Send to one member, and Events delivers what
// arrives, in order. Underneath, each member runs a stack of protocol layers
// (package layers) driven by one goroutine over a transport (package
// transport); this package is only that thin shell.
//
//	g, err := conclave.Join(ctx, conclave.Config{
//		Group:   "example",
//		Members: addrs, // every member's address, the same list everywhere
//		Self:    rank,  // this member's index in Members
//	})
//	if err != nil { ... }
//	defer g.Close()
//	g.Multicast(ctx, []byte("hello"))
//	for ev := range g.Events() {
//		fmt.Printf("%d: %s\n", ev.From, ev.Data)
//	}
package conclave
