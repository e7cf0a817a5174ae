package main

import (
	"encoding/hex"
	"math"
	"sync"

	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/bottom"
	"github.com/conclave-go/conclave/layers/encrypt"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// hoard is the demo's hostile member: it keeps every key its encrypt layer
// is given, never erasing them when a generation or a view ends, as a
// member that turned against the group would. After its eviction it tries
// them all on the group's later datagrams.
type hoard struct {
	mu      sync.Mutex
	sealers []*hoarded
}

// hoarded is one epoch's sealer, never retired or released.
type hoarded struct {
	h *hoard
	s encrypt.Sealer
	n int // members in its view
}

// newSealer is the member's encrypt.Config.NewSealer.
func (h *hoard) newSealer(keys encrypt.Keys, rank, n int) (encrypt.Sealer, error) {
	s := &hoarded{h: h, s: encrypt.NewBlockSealer(keys, rank, n), n: n}
	h.mu.Lock()
	h.sealers = append(h.sealers, s)
	h.mu.Unlock()
	return s, nil
}

func (s *hoarded) Seal(dst []byte, gen, counter uint32, aad, plaintext []byte) ([]byte, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.s.Seal(dst, gen, counter, aad, plaintext)
}

func (s *hoarded) Open(dst []byte, sender int, gen, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	return s.s.Open(dst, sender, gen, counter, aad, ciphertext)
}

func (s *hoarded) Retire(int, uint32) {}
func (s *hoarded) Release()           {}

// epochs is how many epochs' keys the hoard holds.
func (h *hoard) epochs() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.sealers)
}

// open tries every key the hoard holds, as every sender of its view, on a
// multicast datagram captured on the wire, and reports whether one opened
// it, under the additional data the encrypt layer seals a multicast of a
// private group under (encrypt.AdditionalData).
func (h *hoard) open(d []byte) bool {
	hdr, err := bottom.Parse(d)
	if err != nil {
		return false
	}
	r := wire.NewReader(d[hdr.Len:])
	flag := r.Byte()
	gen := r.UvarintMax(math.MaxUint32)
	counter := r.UvarintMax(keying.DatagramsPerBlock - 1)
	if r.Err() != nil || flag != 0 || r.Len() <= encrypt.Overhead {
		return false
	}
	aad := encrypt.AdditionalData(false, d[:hdr.Len], layers.AllPeers)
	sealed := d[len(d)-r.Len():]
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, s := range h.sealers {
		for sender := range s.n {
			if _, err := s.s.Open(nil, sender, uint32(gen), uint32(counter), aad, sealed); err == nil {
				return true
			}
		}
	}
	return false
}

// capture keeps the stack datagrams (not membership control messages) a
// member sends, up to maxCaptured, as anyone on the network path sees them.
type capture struct {
	mu   sync.Mutex
	sent [][]byte
}

const maxCaptured = 4096

func (c *capture) record(pkts []transport.Outgoing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range pkts {
		if len(p.Data) > 0 && p.Data[0] != membership.Magic && len(c.sent) < maxCaptured {
			c.sent = append(c.sent, append([]byte(nil), p.Data...))
		}
	}
}

// take returns what was captured and starts again.
func (c *capture) take() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.sent
	c.sent = nil
	return s
}

// hexPrefix shows the first n bytes of b in hex.
func hexPrefix(b []byte, n int) string {
	if len(b) <= n {
		return hex.EncodeToString(b)
	}
	return hex.EncodeToString(b[:n]) + "…"
}
