package conclave_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
)

// Three members in one process, on 127.0.0.1 with ports the system picks,
// form a secured group, each multicasts a greeting, and each prints what it
// delivered. README.md and the package documentation show this program.
func ExampleJoin() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Each member proves a Noise key of its own, and admits the members
	// whose public keys are on its list. A real member reads its key
	// from a file made by `keyadmin keygen noise -o FILE`
	// (noise.LoadPrivateKeyFile), and the list holds the public keys
	// `keyadmin pubkey` prints, "noise:" and base64.
	var keys []*noise.PrivateKey
	var allowed []string
	for range 3 {
		k, err := noise.GenerateKey(rand.Reader)
		if err != nil {
			log.Fatal(err)
		}
		keys = append(keys, k)
		allowed = append(allowed, k.Public().String())
	}

	// The first member starts a group of its own; the others find it
	// through it, their seed.
	var members []*conclave.Group
	for _, k := range keys {
		cfg := conclave.Config{
			Group:      "example",
			Listen:     netip.MustParseAddrPort("127.0.0.1:0"),
			Credential: noise.NewCredential(k),
			Admit:      auth.Allow(allowed...),
		}
		if len(members) > 0 {
			cfg.Seeds = []netip.AddrPort{members[0].LocalAddr()}
		}
		g, err := conclave.Join(ctx, cfg)
		if err != nil {
			log.Fatal(err)
		}
		defer g.Close()
		members = append(members, g)
	}

	// Join returns at once, with the member alone in a view of its own:
	// wait until every member is in a view of all three.
	for _, g := range members {
		_, err := g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == 3 })
		if err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("every member is in a view of 3")

	// The view has a key epoch of its own, agreed by its members as they
	// installed it: each derives the same secrets from it, which nobody
	// outside the view can.
	var secrets [][]byte
	for _, g := range members {
		s, err := g.Export("example secret", nil, 32)
		if err != nil {
			log.Fatal(err)
		}
		secrets = append(secrets, s)
	}
	fmt.Println("the members derive the same secret:", bytes.Equal(secrets[0], secrets[1]) && bytes.Equal(secrets[1], secrets[2]))

	for i, g := range members {
		msg := fmt.Sprintf("hello from member %d", i)
		if err := g.Multicast(ctx, []byte(msg)); err != nil {
			log.Fatal(err)
		}
	}

	// Every member delivers every multicast, its own included. Each
	// sender's messages arrive in its order; between senders the order may
	// differ from member to member (Config.TotalOrder makes it one), so
	// the greetings are sorted before they are printed.
	for i, g := range members {
		var got []string
		for len(got) < len(members) {
			select {
			case ev, ok := <-g.Events():
				if !ok {
					log.Fatal("the member stopped")
				}
				if ev.Kind == conclave.Message {
					got = append(got, string(ev.Data))
				}
			case <-ctx.Done():
				log.Fatal(ctx.Err())
			}
		}
		slices.Sort(got)
		fmt.Printf("member %d delivered: %s\n", i, strings.Join(got, "; "))
	}

	// Leave departs gracefully: the others install a view without it.
	for _, g := range slices.Backward(members) {
		if err := g.Leave(ctx); err != nil {
			log.Fatal(err)
		}
	}
	fmt.Println("all left")
	// Output:
	// every member is in a view of 3
	// the members derive the same secret: true
	// member 0 delivered: hello from member 0; hello from member 1; hello from member 2
	// member 1 delivered: hello from member 0; hello from member 1; hello from member 2
	// member 2 delivered: hello from member 0; hello from member 1; hello from member 2
	// all left
}

// Two members of a secured group, each with a generated Noise key and an
// allow list of both public keys, form a view; each ViewChange names the
// members' identities and the view's key epoch, and a KeyChange says why
// the key changed. A multicast goes out in the view, and a rekey gives the
// same members a new epoch.
func ExampleGroup_Export() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, _ := noise.GenerateKey(rand.Reader)
	b, _ := noise.GenerateKey(rand.Reader)
	admit := auth.Allow(a.Public().String(), b.Public().String())
	join := func(k *noise.PrivateKey, seeds ...netip.AddrPort) *conclave.Group {
		g, err := conclave.Join(ctx, conclave.Config{
			Group:      "export example",
			Listen:     netip.MustParseAddrPort("127.0.0.1:0"),
			Seeds:      seeds,
			Credential: noise.NewCredential(k),
			Admit:      admit,
		})
		if err != nil {
			log.Fatal(err)
		}
		return g
	}
	ga := join(a)
	defer ga.Close()
	gb := join(b, ga.LocalAddr())
	defer gb.Close()

	// next returns a's next event of kind k, skipping the others.
	next := func(k conclave.EventKind) conclave.Event {
		for {
			select {
			case ev := <-ga.Events():
				if ev.Kind == k {
					return ev
				}
			case <-ctx.Done():
				log.Fatal(ctx.Err())
			}
		}
	}
	// a's first view is its own, the first epoch of a group of one.
	next(conclave.KeyChange)
	view := next(conclave.ViewChange)
	key := next(conclave.KeyChange)
	fmt.Printf("a view of %d, identities known: %v\n", len(view.View.Members),
		slices.Contains(view.Identities, conclave.Identity{Provider: "noise", Name: b.Public().Name()}))
	fmt.Printf("key change: %s, epoch follows the view's: %v\n", key.Reason, key.Epoch == view.Epoch && key.Epoch > 0)

	if err := gb.Multicast(ctx, []byte("hello from b")); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("a delivers %q\n", next(conclave.Message).Data)

	// A rekey: a view change with the same members and a new epoch, whose
	// secrets are unrelated to the last one's.
	before, err := ga.Export("example", nil, 16)
	if err != nil {
		log.Fatal(err)
	}
	if err := gb.Rekey(ctx); err != nil {
		log.Fatal(err)
	}
	rekey := next(conclave.KeyChange)
	after, err := ga.Export("example", nil, 16)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("key change: %s, new epoch: %v, new secret: %v\n", rekey.Reason, rekey.Epoch > key.Epoch, !bytes.Equal(before, after))
	// Output:
	// a view of 2, identities known: true
	// key change: join, epoch follows the view's: true
	// a delivers "hello from b"
	// key change: rekey, new epoch: true, new secret: true
}
