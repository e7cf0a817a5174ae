package membership

import (
	"net/netip"
	"slices"
	"time"
)

// The known list holds the addresses a coordinator probes to find other
// views: the seeds the operator configured, which stay, and addresses
// learnt since, which go when full or when not heard from for
// Timing.Forget. An address is learnt only when it has proven that it
// receives (a member of a view this member installed, a peer that echoed
// this member's cookie) or when such a peer named it as its coordinator;
// a stranger's datagram never adds one.

// maxKnown bounds the learnt (non-seed) addresses of the known list.
const maxKnown = 2 * MaxMembers

type knownAddr struct {
	addr  netip.AddrPort
	heard time.Duration // when last heard from, or learnt
	seed  bool
}

type knownList struct {
	addrs  []knownAddr
	learnt int // entries that are not seeds
}

func (k *knownList) index(a netip.AddrPort) int {
	return slices.IndexFunc(k.addrs, func(e knownAddr) bool { return e.addr == a })
}

// learn adds a (or refreshes it). When the learnt addresses are at their
// bound, the one heard from least recently makes room.
func (k *knownList) learn(a netip.AddrPort, now time.Duration, seed bool) {
	if i := k.index(a); i >= 0 {
		k.addrs[i].heard = max(k.addrs[i].heard, now)
		k.addrs[i].seed = k.addrs[i].seed || seed
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
	k.addrs = append(k.addrs, knownAddr{addr: a, heard: now, seed: seed})
	if !seed {
		k.learnt++
	}
}

// heard notes that a has been heard from, if it is known.
func (k *knownList) heard(a netip.AddrPort, now time.Duration) {
	if i := k.index(a); i >= 0 {
		k.addrs[i].heard = max(k.addrs[i].heard, now)
	}
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
