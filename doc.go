// Package conclave is the public API of Conclave: secure process groups
// with agreed membership and reliable, ordered multicast.
//
// A member joins with [Join] and gets a [*Group]. Join returns at once, with
// the member alone in a view of its own; it finds the group through
// Config.Seeds, and [Group.AwaitView] waits for a view with the members an
// application needs. [Group.Multicast] sends to every member of the view
// (itself included), [Group.Send] to one member, and [Group.Events] delivers
// what arrives, in order: messages, blocks and views. [Group.Leave] departs
// gracefully; [Group.Close] stops at once. Underneath, each member runs a
// stack of protocol layers (package layers) and the membership protocol
// (package membership), driven by one goroutine at a time (the one that
// read a datagram, a caller of Multicast or Send, or the member's own for
// ticks) over a transport (package transport); this package is only that
// thin shell.
//
// A group is secured by default: each member has a credential
// (Config.Credential, a Noise key of package auth/noise) and an admission
// check (Config.Admit; auth.Allow admits a list of public keys). A process
// joins only after a handshake proves its key and the check admits it, each
// view has its own key epoch (a KeyChange event follows each ViewChange, and
// [Group.Export] derives secrets from the epoch), control messages are
// signed or authenticated under it, and every datagram of the stack is
// sealed under the epoch's per-sender keys. Config.Protection chooses
// privacy (Private, the default: a Send is sealed for its recipient alone
// too) or IntegrityOnly (authenticated, readable on the wire), and
// Config.SenderAuth adds signed multicasts, so that no member can forge
// another's. Config.Insecure runs a plain group.
//
// A complete program: three members in one process form a secured group,
// check that they share the view's key, each multicasts a greeting, each
// prints what it delivered, and all leave. It is ExampleJoin, which go test
// runs and checks; in a real deployment each process runs one member,
// listening on an address the others can reach, with its key read from a
// file.
//
//	package main
//
//	import (
//		"bytes"
//		"context"
//		"crypto/rand"
//		"fmt"
//		"log"
//		"net/netip"
//		"slices"
//		"strings"
//		"time"
//
//		"github.com/conclave-go/conclave"
//		"github.com/conclave-go/conclave/auth"
//		"github.com/conclave-go/conclave/auth/noise"
//	)
//
//	func main() {
//		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
//		defer cancel()
//
//		// Each member proves a Noise key of its own, and admits the members
//		// whose public keys are on its list. A real member reads its key
//		// from a file made by `keyadmin keygen noise -o FILE`
//		// (noise.LoadPrivateKeyFile), and the list holds the public keys
//		// `keyadmin pubkey` prints, "noise:" and base64.
//		var keys []*noise.PrivateKey
//		var allowed []string
//		for range 3 {
//			k, err := noise.GenerateKey(rand.Reader)
//			if err != nil {
//				log.Fatal(err)
//			}
//			keys = append(keys, k)
//			allowed = append(allowed, k.Public().String())
//		}
//
//		// The first member starts a group of its own; the others find it
//		// through it, their seed.
//		var members []*conclave.Group
//		for _, k := range keys {
//			cfg := conclave.Config{
//				Group:      "example",
//				Listen:     netip.MustParseAddrPort("127.0.0.1:0"),
//				Credential: noise.NewCredential(k),
//				Admit:      auth.Allow(allowed...),
//			}
//			if len(members) > 0 {
//				cfg.Seeds = []netip.AddrPort{members[0].LocalAddr()}
//			}
//			g, err := conclave.Join(ctx, cfg)
//			if err != nil {
//				log.Fatal(err)
//			}
//			defer g.Close()
//			members = append(members, g)
//		}
//
//		// Join returns at once, with the member alone in a view of its own:
//		// wait until every member is in a view of all three.
//		for _, g := range members {
//			_, err := g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == 3 })
//			if err != nil {
//				log.Fatal(err)
//			}
//		}
//		fmt.Println("every member is in a view of 3")
//
//		// The view has a key epoch of its own, agreed by its members as they
//		// installed it: each derives the same secrets from it, which nobody
//		// outside the view can.
//		var secrets [][]byte
//		for _, g := range members {
//			s, err := g.Export("example secret", nil, 32)
//			if err != nil {
//				log.Fatal(err)
//			}
//			secrets = append(secrets, s)
//		}
//		fmt.Println("the members derive the same secret:", bytes.Equal(secrets[0], secrets[1]) && bytes.Equal(secrets[1], secrets[2]))
//
//		for i, g := range members {
//			msg := fmt.Sprintf("hello from member %d", i)
//			if err := g.Multicast(ctx, []byte(msg)); err != nil {
//				log.Fatal(err)
//			}
//		}
//
//		// Every member delivers every multicast, its own included. Each
//		// sender's messages arrive in its order; between senders the order may
//		// differ from member to member (Config.TotalOrder makes it one), so
//		// the greetings are sorted before they are printed.
//		for i, g := range members {
//			var got []string
//			for len(got) < len(members) {
//				select {
//				case ev, ok := <-g.Events():
//					if !ok {
//						log.Fatal("the member stopped")
//					}
//					if ev.Kind == conclave.Message {
//						got = append(got, string(ev.Data))
//					}
//				case <-ctx.Done():
//					log.Fatal(ctx.Err())
//				}
//			}
//			slices.Sort(got)
//			fmt.Printf("member %d delivered: %s\n", i, strings.Join(got, "; "))
//		}
//
//		// Leave departs gracefully: the others install a view without it.
//		for _, g := range slices.Backward(members) {
//			if err := g.Leave(ctx); err != nil {
//				log.Fatal(err)
//			}
//		}
//		fmt.Println("all left")
//	}
package conclave
