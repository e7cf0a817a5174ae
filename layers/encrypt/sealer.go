package encrypt

import (
	"errors"

	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
)

// Keys is what the layer needs of a view's key material: the per-sender
// ratchets of the epoch's secret tree. In a secured group it is membership
// secure's *EpochKeys. The layer owns every sender's application ratchet:
// nothing else may take keys from them, or nonces would repeat.
type Keys interface {
	layers.Keys
	// ApplicationRatchet returns the application ratchet of the member of
	// rank r in the view.
	ApplicationRatchet(r int) (*keying.Ratchet, error)
}

// Sealer seals and opens datagrams under one epoch's per-sender keys, by
// (sender, generation), with the datagram's counter in the generation as
// nonce. The layer decides generations and counters and refuses replays;
// a Sealer only protects.
type Sealer interface {
	// Seal appends plaintext to dst sealed as this member's datagram
	// counter of generation gen, authenticated with aad. Generations never
	// decrease and within one the counters are 0, 1, 2, … in order.
	Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error)
	// Open appends to dst the plaintext of the datagram (gen, counter) of
	// the member of rank sender, or fails if it does not authenticate. The
	// generation is within MaxGenerationsAhead+1 of the newest one opened
	// from that sender and at most one below it.
	Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error)
	// Retire erases the sender's keys of generations below gen: nothing of
	// them will be opened again.
	Retire(sender int, gen uint32)
	// Release erases every key the sealer holds; it is not used afterwards.
	Release()
}

// Overhead is what a datagram's sealing adds: the AEAD tag of every suite
// Conclave offers.
const Overhead = 16

// MaxHeader bounds the layer's header: a byte, a generation and a counter.
const MaxHeader = 1 + 5 + 3

// Room is the most the layer adds to a datagram, which the layers that fill
// datagrams (bundle) leave free below MaxDatagram besides the bottom
// header.
const Room = MaxHeader + Overhead

// MaxGenerationsAhead is how many generations past the newest one a sender
// has authenticated a datagram may name. An honest sender moves one
// generation per keying.DatagramsPerBlock datagrams, so only a receiver
// that lost more than MaxGenerationsAhead·2^16 of them in a row needs more.
const MaxGenerationsAhead = 4

// heldGenerations is how many generations' AEADs a receiver keeps per
// sender: the newest, the one before (for datagrams reordered across the
// change) and those ahead.
const heldGenerations = MaxGenerationsAhead + 2

var (
	errGeneration = errors.New("encrypt: generation outside the window")
	errCounter    = errors.New("encrypt: counter out of order")
	errReleased   = errors.New("encrypt: keys released")
)

// blockSealer is the default Sealer: keying.Block per (sender,
// generation), taken from the epoch's secret tree. A receiver's blocks of
// a sender are derived in generation order, so the ratchet keeps no key
// aside: what is held is the ring below.
type blockSealer struct {
	keys Keys
	rank int
	own  *keying.Block
	// peers[r] holds sender r's blocks, the one of generation g in
	// ring[g % heldGenerations]; nil until r's first datagram.
	peers []*peerBlocks
	gone  bool
}

type peerBlocks struct {
	r    *keying.Ratchet
	ring [heldGenerations]*keying.Block
}

// NewBlockSealer returns the default Sealer over keys for this member of
// rank rank in a view of n members.
func NewBlockSealer(keys Keys, rank, n int) Sealer {
	return &blockSealer{keys: keys, rank: rank, peers: make([]*peerBlocks, n)}
}

func (s *blockSealer) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	if b := s.sealing(gen); b != nil {
		return sealIn(b, dst, counter, aad, plaintext)
	}
	return s.sealNext(dst, gen, counter, aad, plaintext)
}

// sealing returns this member's block of generation gen if it is the one
// at hand, as it is for every datagram but a generation's first; nil
// otherwise, or if s is nil. The layer calls it directly, so that the
// common case crosses no interface.
func (s *blockSealer) sealing(gen uint32) *keying.Block {
	if s == nil || s.own == nil || s.own.Generation != gen {
		return nil
	}
	return s.own
}

// sealNext takes the next generation's block from this member's ratchet
// and seals with it.
func (s *blockSealer) sealNext(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	if s.gone {
		return dst, errReleased
	}
	r, err := s.keys.ApplicationRatchet(s.rank)
	if err != nil {
		return dst, err
	}
	if uint64(gen) != r.NextGeneration() {
		return dst, errGeneration
	}
	b, err := r.NextBlock()
	if err != nil {
		return dst, err
	}
	if s.own != nil {
		s.own.Destroy()
	}
	s.own = b
	return sealIn(b, dst, counter, aad, plaintext)
}

// sealIn seals with b, which must hand out counter: the block counts its
// datagrams itself, and a layer and a block that disagree would reuse a
// nonce the receiver's replay window refuses. A block that fails may name
// any counter; the error is then errCounter or its own, never nil. Small
// enough to inline into the layer's Down.
func sealIn(b *keying.Block, dst []byte, counter uint32, aad, plaintext []byte) (out []byte, err error) {
	var c uint32
	if c, out, err = b.Seal(dst, aad, plaintext); c != counter {
		err = errCounter
	}
	return out, err
}

func (s *blockSealer) Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	if b := s.opening(sender, gen); b != nil {
		return b.Open(dst, counter, aad, ciphertext)
	}
	return s.openNew(dst, sender, gen, counter, aad, ciphertext)
}

// opening returns sender's block of generation gen if it is derived, as
// it is for every datagram of the sender but a generation's first; nil
// otherwise, or if s is nil. The layer calls it directly, so that the
// common case crosses no interface.
func (s *blockSealer) opening(sender int, gen uint32) *keying.Block {
	if s == nil || uint(sender) >= uint(len(s.peers)) || s.peers[sender] == nil {
		return nil
	}
	if b := s.peers[sender].ring[gen%heldGenerations]; b != nil && b.Generation == gen {
		return b
	}
	return nil
}

// openNew derives the sender's blocks up to generation gen, then opens.
func (s *blockSealer) openNew(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	if s.gone {
		return nil, errReleased
	}
	if sender < 0 || sender >= len(s.peers) || sender == s.rank {
		return nil, errGeneration
	}
	p := s.peers[sender]
	if p == nil {
		r, err := s.keys.ApplicationRatchet(sender)
		if err != nil {
			return nil, err
		}
		p = &peerBlocks{r: r}
		s.peers[sender] = p
	}
	slot := &p.ring[gen%heldGenerations]
	if *slot == nil || (*slot).Generation != gen {
		next := p.r.NextGeneration()
		if uint64(gen) < next || uint64(gen)-next >= heldGenerations {
			return nil, errGeneration
		}
		// Derive in order up to gen, so that the ratchet keeps no key of
		// a skipped generation: the ring holds them, and evicts only
		// generations older than any the window admits.
		for g := next; g <= uint64(gen); g++ {
			b, err := p.r.Block(uint32(g))
			if err != nil {
				return nil, err
			}
			old := &p.ring[g%heldGenerations]
			if *old != nil {
				(*old).Destroy()
			}
			*old = b
		}
	}
	return (*slot).Open(dst, counter, aad, ciphertext)
}

func (s *blockSealer) Retire(sender int, gen uint32) {
	if sender < 0 || sender >= len(s.peers) || s.peers[sender] == nil {
		return
	}
	for i, b := range s.peers[sender].ring {
		if b != nil && b.Generation < gen {
			b.Destroy()
			s.peers[sender].ring[i] = nil
		}
	}
}

func (s *blockSealer) Release() {
	if s.own != nil {
		s.own.Destroy()
		s.own = nil
	}
	for _, p := range s.peers {
		if p == nil {
			continue
		}
		for i, b := range p.ring {
			if b != nil {
				b.Destroy()
				p.ring[i] = nil
			}
		}
	}
	s.gone = true
}

// held counts the blocks the sealer keeps, for Footprint.
func (s *blockSealer) held() int {
	n := 0
	if s.own != nil {
		n++
	}
	for _, p := range s.peers {
		if p == nil {
			continue
		}
		for _, b := range p.ring {
			if b != nil {
				n++
			}
		}
	}
	return n
}
