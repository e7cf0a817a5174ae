package crypto

import (
	"encoding/binary"
	"hash"
	"sync"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// HMAC (RFC 2104) with the suite's hash, computed in a pooled state: every
// key schedule step, path secret and node key is an HMAC or two, and
// crypto/hmac.New allocates two hash states and their pads on each call,
// garbage whose collection lands inside the handling that made it.

// macState is one HMAC computation's scratch: the hash and the pad and
// inner-hash buffers, which stay with it (and are erased after each use)
// rather than escape to the heap through the hash's interface.
type macState struct {
	h     hash.Hash
	pad   [128]byte // a block of the largest hash here (SHA-512)
	inner [64]byte  // a digest of the largest hash
	info  [256]byte // room for a short KDFLabel (expandLabelled)
}

// macPool returns a pool of HMAC states for newHash.
func macPool(newHash func() hash.Hash) *sync.Pool {
	return &sync.Pool{New: func() any { return &macState{h: newHash()} }}
}

// hmacSum appends HMAC(key, m1 || m2) to dst.
func (s *Suite) hmacSum(dst, key, m1, m2 []byte) []byte {
	st := s.macs.Get().(*macState)
	defer s.macs.Put(st)
	return st.sum(dst, key, m1, m2)
}

// sum appends HMAC(key, m1 || m2) to dst.
func (st *macState) sum(dst, key, m1, m2 []byte) []byte {
	h := st.h
	bs := h.BlockSize()
	pad := st.pad[:bs]
	clear(pad)
	if len(key) > bs {
		h.Reset()
		h.Write(key)
		h.Sum(pad[:0])
	} else {
		copy(pad, key)
	}
	for i := range pad {
		pad[i] ^= 0x36
	}
	h.Reset()
	h.Write(pad)
	h.Write(m1)
	h.Write(m2)
	inner := h.Sum(st.inner[:0])
	for i := range pad {
		pad[i] ^= 0x36 ^ 0x5c
	}
	h.Reset()
	h.Write(pad)
	h.Write(inner)
	out := h.Sum(dst)
	// Erase what the key was mixed into: the pads and the inner digest
	// (the hash's own state is overwritten by its next Reset).
	clear(st.pad[:])
	clear(st.inner[:])
	h.Reset()
	return out
}

// expandLabelled is ExpandWithLabel's one-block case (length at most the
// hash size) for a KDFLabel that fits the state's scratch: the label is
// encoded there rather than in a buffer of its own. ok is false if the
// label does not fit.
func (s *Suite) expandLabelled(secret Secret, label string, context []byte, length int) (out Secret, ok bool) {
	n := 2 + 1 + len(labelPrefix) + len(label) + 4 + len(context)
	st := s.macs.Get().(*macState)
	defer s.macs.Put(st)
	if n > len(st.info) || len(labelPrefix)+len(label) >= 1<<6 {
		return nil, false
	}
	b := binary.BigEndian.AppendUint16(st.info[:0], uint16(length))
	b = append(b, byte(len(labelPrefix)+len(label)))
	b = append(b, labelPrefix...)
	b = append(b, label...)
	b, err := mlsenc.AppendVarint(b, uint64(len(context)))
	if err != nil {
		return nil, false
	}
	b = append(b, context...)
	full := st.sum(make([]byte, 0, s.hashSize), secret, b, blockOne[:])
	clear(b)
	if length == len(full) {
		return full, true
	}
	out = append(Secret(make([]byte, 0, length)), full[:length]...)
	clear(full)
	return out, true
}
