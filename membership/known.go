package membership

import (
	"net/netip"
	"slices"
	"time"
)

// The known list holds the addresses a coordinator probes to find other
// views: the seeds the operator configured, which stay, and addresses
// learnt since, which go when full or when not heard from for
// Timing.Forget. Seeds and members of views this member installed vouch
// for the addresses they name: when one of them, having echoed this
// member's cookie, names its view's coordinator, that address is learnt
// too (the way a process that starts finds the coordinator through a seed
// that is not). Nothing else adds an address; in particular no stranger's
// datagram does, even from a stranger that has proven its own address.

// maxKnown bounds the learnt (non-seed) addresses of the known list.
const maxKnown = 2 * MaxMembers

type knownAddr struct {
	addr    netip.AddrPort
	heard   time.Duration // when last heard from, or learnt
	seed    bool
	vouches bool // a seed, or a member of a view this member installed
}

// How an address came to be known.
type knownHow uint8

const (
	knownSeed   knownHow = iota + 1 // configured by the operator
	knownMember                     // a member of a view this member installed
	knownNamed                      // named as a coordinator by a seed or member
)

type knownList struct {
	addrs  []knownAddr
	learnt int // entries that are not seeds
}

func (k *knownList) index(a netip.AddrPort) int {
	return slices.IndexFunc(k.addrs, func(e knownAddr) bool { return e.addr == a })
}

// learn adds a (or refreshes it). When the learnt addresses are at their
// bound, the one heard from least recently makes room.
func (k *knownList) learn(a netip.AddrPort, now time.Duration, how knownHow) {
	seed, vouches := how == knownSeed, how != knownNamed
	if i := k.index(a); i >= 0 {
		e := &k.addrs[i]
		e.heard = max(e.heard, now)
		if seed && !e.seed {
			k.learnt--
		}
		e.seed, e.vouches = e.seed || seed, e.vouches || vouches
		return
	}
	if !seed && k.learnt >= maxKnown {
		oldest := -1
		for i, e := range k.addrs {
			if !e.seed && (oldest < 0 || e.heard < k.addrs[oldest].heard) {
				oldest = i
			}
		}
		k.addrs = slices.Delete(k.addrs, oldest, oldest+1)
		k.learnt--
	}
	k.addrs = append(k.addrs, knownAddr{addr: a, heard: now, seed: seed, vouches: vouches})
	if !seed {
		k.learnt++
	}
}

// has reports whether a is known.
func (k *knownList) has(a netip.AddrPort) bool { return k.index(a) >= 0 }

// vouches reports whether a is known as a seed or as a member of a view
// this member installed.
func (k *knownList) vouches(a netip.AddrPort) bool {
	i := k.index(a)
	return i >= 0 && k.addrs[i].vouches
}

// forget drops learnt addresses not heard from for ttl. Addresses of
// members of the current view (member) count as heard from now: when one
// is cut off by a partition, it is probed for ttl from then on.
func (k *knownList) forget(now, ttl time.Duration, member func(netip.AddrPort) bool) {
	k.addrs = slices.DeleteFunc(k.addrs, func(e knownAddr) bool {
		return !e.seed && now-e.heard >= ttl && !member(e.addr)
	})
	k.learnt = 0
	for i := range k.addrs {
		if member(k.addrs[i].addr) {
			k.addrs[i].heard = now
		}
		if !k.addrs[i].seed {
			k.learnt++
		}
	}
}
