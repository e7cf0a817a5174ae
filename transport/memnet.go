package transport

import (
	"bytes"
	"cmp"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"sync"
	"time"
)

// Delivery is one datagram a Network hands over.
type Delivery struct {
	At       time.Duration
	From, To netip.AddrPort
	Data     []byte
}

// NetStats counts what a Network did with the datagrams sent into it.
type NetStats struct {
	Sent        uint64 // Send calls, duplicates not included
	Delivered   uint64 // datagrams returned by Due or put in an endpoint's inbox
	Dropped     uint64 // lost to Faults.Loss
	Duplicated  uint64 // extra copies made by Faults.Duplicate
	Reordered   uint64 // copies held back by Faults.Reorder
	Partitioned uint64 // dropped by a partition or a detached address
	Overflowed  uint64 // dropped because an endpoint's inbox was full
	Unreachable uint64 // dropped because no endpoint was open at the destination
	Oversize    uint64 // dropped because longer than the network's largest datagram
}

// Flow counts what went from one address to another, when the Network
// keeps flows (KeepFlows): enough to hold a member to a rule on the bytes
// it sends to an address against the bytes it received from there.
type Flow struct {
	Sent, SentBytes           uint64 // Send calls, duplicates not included
	Delivered, DeliveredBytes uint64 // copies returned by Due or put in an inbox
}

// MaxDatagram is the default largest datagram a Network carries: the
// largest UDP payload over IPv4, as for UDPConn.
const MaxDatagram = defaultMaxDatagram

type flowKey struct{ from, to netip.AddrPort }

// Network is an in-memory datagram network with injectable faults.
//
// Driven through Send and Due it is deterministic: the same seed and the
// same sequence of calls give the same deliveries, byte for byte. All
// randomness comes from one PCG generator seeded with the seed, time is
// whatever the caller passes in, and the delivery order is fixed by due
// time and then send order.
//
// A Network is safe for concurrent use, which matters once endpoints (see
// Endpoint) drive it from several goroutines. A Network is meant to be
// driven either through Due or through endpoints, not both.
type Network struct {
	mu       sync.Mutex
	rng      *rand.Rand
	faults   Faults
	seq      uint64
	inFlight schedule
	stats    NetStats
	maxSize  int
	flows    map[flowKey]*Flow // nil unless KeepFlows

	// side maps an address to its side of the current partition; addresses
	// not in it, and all addresses when it is nil, are on side 0.
	side     map[netip.AddrPort]int
	detached map[netip.AddrPort]bool

	// Endpoint mode: the open endpoints, the clock the pump reads, and the
	// pump goroutine's state.
	endpoints map[netip.AddrPort]*MemConn
	clock     func() time.Duration
	pumping   bool
	pumpAt    time.Duration // when the sleeping pump will next wake
	wake      chan struct{}
}

// pcgStream is the second PCG seed word; any fixed value works, it only has
// to stay the same for runs to be reproducible.
const pcgStream = 0x9e3779b97f4a7c15

// NewNetwork returns a network whose every random choice derives from seed.
func NewNetwork(seed uint64, f Faults) *Network {
	return &Network{
		rng:       rand.New(rand.NewPCG(seed, pcgStream)),
		faults:    f.normalized(),
		maxSize:   MaxDatagram,
		detached:  make(map[netip.AddrPort]bool),
		endpoints: make(map[netip.AddrPort]*MemConn),
		wake:      make(chan struct{}, 1),
	}
}

// Addr returns a synthetic address for member i, 127.0.0.1:(10000+i). It is
// only a name inside a Network; nothing listens there. It panics for i
// outside [0, 55535], where the port would not fit.
func Addr(i int) netip.AddrPort {
	if i < 0 || i > 65535-10000 {
		panic(fmt.Sprintf("transport: member index %d out of range", i))
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), uint16(10000+i))
}

// SetFaults replaces the faults applied to datagrams sent from now on.
// Probabilities are clamped into [0, 1] and a negative delay counts as zero.
func (n *Network) SetFaults(f Faults) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.faults = f.normalized()
}

// SetMaxDatagram sets the largest datagram the network carries (see Conn:
// a longer one is dropped whole and counted in NetStats.Oversize). It
// panics for n below 1.
func (n *Network) SetMaxDatagram(size int) {
	if size < 1 {
		panic(fmt.Sprintf("transport: max datagram %d below 1", size))
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.maxSize = size
}

// KeepFlows makes the network count, from now on, the datagrams and bytes
// sent and delivered between each pair of addresses (see Flow).
func (n *Network) KeepFlows() {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.flows == nil {
		n.flows = make(map[flowKey]*Flow)
	}
}

// Flow returns what went from one address to another since KeepFlows.
func (n *Network) Flow(from, to netip.AddrPort) Flow {
	n.mu.Lock()
	defer n.mu.Unlock()
	if f := n.flows[flowKey{from, to}]; f != nil {
		return *f
	}
	return Flow{}
}

// Flows calls fn for every pair of addresses with a flow, in an order
// that depends only on the addresses.
func (n *Network) Flows(fn func(from, to netip.AddrPort, f Flow)) {
	n.mu.Lock()
	keys := make([]flowKey, 0, len(n.flows))
	for k := range n.flows {
		keys = append(keys, k)
	}
	flows := make([]Flow, len(keys))
	slices.SortFunc(keys, func(a, b flowKey) int { return cmp.Or(a.from.Compare(b.from), a.to.Compare(b.to)) })
	for i, k := range keys {
		flows[i] = *n.flows[k]
	}
	n.mu.Unlock()
	for i, k := range keys {
		fn(k.from, k.to, flows[i])
	}
}

func (n *Network) flowLocked(from, to netip.AddrPort) *Flow {
	if n.flows == nil {
		return nil
	}
	k := flowKey{from, to}
	f := n.flows[k]
	if f == nil {
		f = &Flow{}
		n.flows[k] = f
	}
	return f
}

func (n *Network) deliveredLocked(s *scheduled) {
	n.stats.Delivered++
	if f := n.flowLocked(s.from, s.to); f != nil {
		f.Delivered++
		f.DeliveredBytes += uint64(len(s.data))
	}
}

// Send puts a copy of data in flight from one address to another, so the
// caller may reuse its buffer. The datagram may be lost or duplicated, and
// each copy is due at now plus its delay. A datagram between addresses that
// cannot reach each other, now or when it falls due, is dropped, and so is
// one longer than the network's largest datagram (SetMaxDatagram).
func (n *Network) Send(now time.Duration, from, to netip.AddrPort, data []byte) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.sendLocked(now, from, to, data)
}

func (n *Network) sendLocked(now time.Duration, from, to netip.AddrPort, data []byte) {
	n.stats.Sent++
	if f := n.flowLocked(from, to); f != nil {
		f.Sent++
		f.SentBytes += uint64(len(data))
	}
	if len(data) > n.maxSize {
		n.stats.Oversize++
		return
	}
	if !n.reachableLocked(from, to) {
		n.stats.Partitioned++
		return
	}
	f := n.faults
	if f.lose(n.rng) {
		n.stats.Dropped++
		return
	}
	copies := 1
	if f.duplicate(n.rng) {
		copies = 2
		n.stats.Duplicated++
	}
	for range copies {
		d, reordered := f.delay(n.rng)
		if reordered {
			n.stats.Reordered++
		}
		n.seq++
		// Each copy gets its own bytes: receivers own what they are given.
		n.inFlight.push(scheduled{at: now + d, seq: n.seq, from: from, to: to, data: bytes.Clone(data)})
	}
}

// Due appends to out every datagram due at or before now, ordered by due
// time and then by the order in which they were sent, removes them from the
// network and returns the extended slice. The receiver owns each Data.
func (n *Network) Due(now time.Duration, out []Delivery) []Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	for {
		s, ok := n.popDueLocked(now)
		if !ok {
			return out
		}
		n.deliveredLocked(&s)
		out = append(out, Delivery{At: s.at, From: s.from, To: s.to, Data: s.data})
	}
}

// popDueLocked removes the next datagram due by now that may still cross
// the network, dropping those a partition has cut off in the meantime.
func (n *Network) popDueLocked(now time.Duration) (scheduled, bool) {
	for {
		at, ok := n.inFlight.next()
		if !ok || at > now {
			return scheduled{}, false
		}
		s := n.inFlight.pop()
		if n.reachableLocked(s.from, s.to) {
			return s, true
		}
		n.stats.Partitioned++
	}
}

// NextDue returns when the earliest datagram in flight falls due, and false
// when none is in flight.
func (n *Network) NextDue() (time.Duration, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.inFlight.next()
}

// Partition splits the network: addresses on different sides cannot reach
// each other until Heal, and datagrams already in flight between them are
// lost. Addresses not listed form one more side together. A new Partition
// replaces the previous one. It panics if an address is on two sides.
func (n *Network) Partition(sides ...[]netip.AddrPort) {
	side := make(map[netip.AddrPort]int)
	for i, members := range sides {
		for _, a := range members {
			if prev, ok := side[a]; ok && prev != i+1 {
				panic(fmt.Sprintf("transport: address %v on two sides of a partition", a))
			}
			side[a] = i + 1
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = side
}

// Heal removes the partition. Detached addresses stay detached.
func (n *Network) Heal() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.side = nil
}

// Detach cuts addr off the network, as if its cable were pulled: datagrams
// to or from it are dropped until Attach.
func (n *Network) Detach(addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.detached[addr] = true
}

// Attach undoes Detach.
func (n *Network) Attach(addr netip.AddrPort) {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.detached, addr)
}

func (n *Network) reachableLocked(from, to netip.AddrPort) bool {
	if n.detached[from] || n.detached[to] {
		return false
	}
	return n.side[from] == n.side[to]
}

// Stats returns a snapshot of the counters.
func (n *Network) Stats() NetStats {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.stats
}
