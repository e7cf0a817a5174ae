package keying

import (
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"

	"github.com/conclave-go/conclave/crypto"
)

// The secret tree of RFC 9420 §9. Its root is the epoch's encryption
// secret; each parent's children are
//
//	left  = ExpandWithLabel(node_secret, "tree", "left",  KDF.Nh)
//	right = ExpandWithLabel(node_secret, "tree", "right", KDF.Nh)
//
// and each leaf seeds a handshake and an application ratchet:
//
//	ratchet_secret_[0] = ExpandWithLabel(leaf_secret, "handshake" or "application", "", KDF.Nh)
//	key_[j]            = DeriveTreeSecret(ratchet_secret_[j], "key",    j, AEAD.Nk)
//	nonce_[j]          = DeriveTreeSecret(ratchet_secret_[j], "nonce",  j, AEAD.Nn)
//	ratchet_secret_[j+1] = DeriveTreeSecret(ratchet_secret_[j], "secret", j, KDF.Nh)
//
// Secrets are derived lazily, when a sender's ratchet is first asked for,
// and deleted as soon as they are no longer needed (RFC 9420 §9.2): a parent
// once both children are derived, a leaf once its two ratchets are seeded, a
// ratchet secret once it has been advanced, a key once handed out.

// Limits of the secret tree. Together they bound the work and memory a
// hostile generation number can cost: at most MaxForwardGenerations
// derivations per call, at most MaxRetainedKeys keys kept per ratchet.
const (
	// MaxForwardGenerations is how far past a ratchet's next generation a
	// receiver will ratchet; a generation further ahead is refused before
	// any derivation.
	MaxForwardGenerations = 1024

	// MaxRetainedKeys is how many generations behind its newest a ratchet
	// keeps the keys of skipped generations, for messages that arrive out
	// of order. Older keys are deleted.
	MaxRetainedKeys = 1024

	// DatagramsPerBlock is how many datagrams one (sender, generation) key
	// protects in block mode before the sender moves to the next
	// generation. It is far inside the AEAD usage limits: RFC 9001 §6.6
	// allows 2^23 full-size packets per AES-GCM key (confidentiality and
	// integrity) and more for ChaCha20-Poly1305, so a key is used for at
	// most 1/128 of what is allowed, and the 2^32 generations of a ratchet
	// give 2^48 datagrams per sender per epoch, with no view change needed.
	DatagramsPerBlock = 1 << 16

	// maxSecretTreeLeaves bounds the leaf count so that node indices fit
	// in a uint32 with room to spare.
	maxSecretTreeLeaves = 1 << 30

	// generationLimit is one past the last generation: generations are
	// uint32 (RFC 9420 §9.1).
	generationLimit = 1 << 32
)

// Errors of the secret tree. They carry no secret.
var (
	ErrLeafCount        = errors.New("keying: secret tree leaf count is not a power of two within bounds")
	ErrLeafIndex        = errors.New("keying: leaf index outside the secret tree")
	ErrRatchetKind      = errors.New("keying: unknown ratchet kind")
	ErrGenerationAhead  = errors.New("keying: generation too far ahead of the ratchet")
	ErrGenerationGone   = errors.New("keying: generation already used or too old")
	ErrRatchetExhausted = errors.New("keying: ratchet has used all its generations")
	ErrSecretTreeGone   = errors.New("keying: secret tree destroyed")
	ErrBlockExhausted   = errors.New("keying: block has protected all its datagrams")
	ErrBlockCounter     = errors.New("keying: datagram counter outside the block")
	ErrOpen             = errors.New("keying: datagram authentication failed")
)

// RatchetKind says which of a leaf's two ratchets: handshake or application.
type RatchetKind uint8

// The two ratchets of a leaf.
const (
	HandshakeRatchet RatchetKind = iota
	ApplicationRatchet
)

func (k RatchetKind) String() string {
	switch k {
	case HandshakeRatchet:
		return "handshake"
	case ApplicationRatchet:
		return "application"
	}
	return fmt.Sprintf("RatchetKind(%d)", uint8(k))
}

// SecretTree is one epoch's secret tree. It is not safe for concurrent use.
// It never prints its secrets.
type SecretTree struct {
	suite  *crypto.Suite
	leaves uint32
	// nodes holds the secrets of the nodes not yet split: at first only
	// the root. A node's secret is here exactly when no ancestor's is and
	// it has not yet been split or (for a leaf) turned into ratchets.
	nodes map[uint32]crypto.Secret
	// ratchets holds each seeded leaf's two ratchets.
	ratchets map[uint32]*[2]*Ratchet
	gone     bool
}

// NewSecretTree makes a secret tree of leafCount leaves (a power of two, as
// RFC 9420 trees are) whose root is encryptionSecret. The tree takes
// ownership of the secret and zeros it when it splits the root.
func NewSecretTree(s *crypto.Suite, encryptionSecret crypto.Secret, leafCount uint32) (*SecretTree, error) {
	if leafCount == 0 || leafCount > maxSecretTreeLeaves || leafCount&(leafCount-1) != 0 {
		return nil, ErrLeafCount
	}
	if len(encryptionSecret) != s.HashSize() {
		return nil, ErrSecretSize
	}
	return &SecretTree{
		suite:    s,
		leaves:   leafCount,
		nodes:    map[uint32]crypto.Secret{leafCount - 1: encryptionSecret},
		ratchets: map[uint32]*[2]*Ratchet{},
	}, nil
}

// LeafCount is the number of leaves.
func (t *SecretTree) LeafCount() uint32 { return t.leaves }

// stLevel is the level of node x: 0 for leaves.
func stLevel(x uint32) uint32 { return uint32(bits.TrailingZeros32(^x)) }

// Ratchet returns the leaf's ratchet of the given kind, deriving the path
// from the nearest stored ancestor down to the leaf on first use. The
// ratchet belongs to the tree: Destroy erases it.
func (t *SecretTree) Ratchet(leaf uint32, kind RatchetKind) (*Ratchet, error) {
	if t.gone {
		return nil, ErrSecretTreeGone
	}
	if leaf >= t.leaves {
		return nil, ErrLeafIndex
	}
	if kind > ApplicationRatchet {
		return nil, ErrRatchetKind
	}
	if rs, ok := t.ratchets[leaf]; ok {
		return rs[kind], nil
	}
	if err := t.seed(leaf); err != nil {
		return nil, err
	}
	return t.ratchets[leaf][kind], nil
}

// seed derives the leaf's secret from the one stored ancestor on its path
// and turns it into the leaf's two ratchets.
func (t *SecretTree) seed(leaf uint32) error {
	s := t.suite
	x := 2 * leaf
	// Find the stored node on the path from the root to x.
	n := t.leaves - 1
	for {
		if _, ok := t.nodes[n]; ok || n == x {
			break
		}
		k := stLevel(n)
		if x < n {
			n ^= 1 << (k - 1)
		} else {
			n ^= 3 << (k - 1)
		}
	}
	secret, ok := t.nodes[n]
	if !ok {
		// Unreachable: a leaf without ratchets has a stored ancestor.
		return ErrSecretTreeGone
	}
	// Split down to x, keeping the off-path child and deleting each parent.
	for n != x {
		k := stLevel(n)
		l, r := n^(1<<(k-1)), n^(3<<(k-1))
		ls, err := s.ExpandWithLabel(secret, "tree", []byte("left"), s.HashSize())
		if err != nil {
			return err
		}
		rs, err := s.ExpandWithLabel(secret, "tree", []byte("right"), s.HashSize())
		if err != nil {
			return err
		}
		secret.Zero()
		delete(t.nodes, n)
		if x < n {
			t.nodes[r] = rs
			n, secret = l, ls
		} else {
			t.nodes[l] = ls
			n, secret = r, rs
		}
		t.nodes[n] = secret
	}
	hs, err := s.ExpandWithLabel(secret, "handshake", nil, s.HashSize())
	if err != nil {
		return err
	}
	as, err := s.ExpandWithLabel(secret, "application", nil, s.HashSize())
	if err != nil {
		return err
	}
	secret.Zero()
	delete(t.nodes, x)
	t.ratchets[leaf] = &[2]*Ratchet{
		{suite: s, secret: hs},
		{suite: s, secret: as},
	}
	return nil
}

// Destroy zeros every secret of the tree in place, its ratchets' included.
func (t *SecretTree) Destroy() {
	for n, s := range t.nodes {
		s.Zero()
		delete(t.nodes, n)
	}
	for l, rs := range t.ratchets {
		rs[0].Destroy()
		rs[1].Destroy()
		delete(t.ratchets, l)
	}
	t.gone = true
}

// String describes the tree and never its secrets.
func (t SecretTree) String() string {
	return fmt.Sprintf("keying.SecretTree{%d leaves, %d senders, secrets redacted}", t.leaves, len(t.ratchets))
}

// GoString is String.
func (t SecretTree) GoString() string { return t.String() }

// Format prints String for every verb.
func (t SecretTree) Format(f fmt.State, verb rune) { fmt.Fprint(f, t.String()) }

// KeyNonce is the AEAD key and nonce of one generation of a ratchet. The
// receiver of one owns it and should Destroy it once used.
type KeyNonce struct {
	Generation uint32
	Key        crypto.Secret
	Nonce      crypto.Secret
}

// Destroy zeros the key and nonce in place.
func (k *KeyNonce) Destroy() {
	k.Key.Destroy()
	k.Nonce.Destroy()
}

// Ratchet is one hash ratchet of a leaf (RFC 9420 §9.1). A sender calls
// Next or NextBlock; a receiver calls Key or Block with the generation a
// message names. Each generation's key is handed out at most once. It is
// not safe for concurrent use and never prints its secrets.
type Ratchet struct {
	suite *crypto.Suite
	// secret is ratchet_secret_[next]; nil once all generations are used.
	secret crypto.Secret
	// next is the first generation whose key has not been derived; it
	// reaches generationLimit when the ratchet is exhausted.
	next uint64
	// skipped holds the keys of generations below next that were stepped
	// over and not yet asked for, at most MaxRetainedKeys of them.
	skipped map[uint32]KeyNonce
}

// NextGeneration is the generation the next call to Next or NextBlock would
// hand out (2^32 when the ratchet is exhausted).
func (r *Ratchet) NextGeneration() uint64 { return r.next }

// step derives the key and nonce of generation r.next, advances the ratchet
// secret and deletes the old one.
func (r *Ratchet) step() (KeyNonce, error) {
	if r.next >= generationLimit || r.secret == nil {
		return KeyNonce{}, ErrRatchetExhausted
	}
	s, g := r.suite, uint32(r.next)
	key, err := s.DeriveTreeSecret(r.secret, "key", g, s.KeySize())
	if err != nil {
		return KeyNonce{}, err
	}
	nonce, err := s.DeriveTreeSecret(r.secret, "nonce", g, s.NonceSize())
	if err != nil {
		return KeyNonce{}, err
	}
	var next crypto.Secret
	if r.next+1 < generationLimit {
		if next, err = s.DeriveTreeSecret(r.secret, "secret", g, s.HashSize()); err != nil {
			return KeyNonce{}, err
		}
	}
	r.secret.Zero()
	r.secret = next
	r.next++
	return KeyNonce{Generation: g, Key: key, Nonce: nonce}, nil
}

// Next hands out the key of the next generation, for sending. The ratchet
// has already moved past it when Next returns, so a state saved afterwards
// can never hand it out again.
func (r *Ratchet) Next() (KeyNonce, error) { return r.step() }

// Key hands out the key of generation gen, for receiving a message that
// names it. A generation below the ratchet's next is served from the keys
// kept for out-of-order messages, once; a generation more than
// MaxForwardGenerations ahead is refused before any derivation.
func (r *Ratchet) Key(gen uint32) (KeyNonce, error) {
	g := uint64(gen)
	if g < r.next {
		k, ok := r.skipped[gen]
		if !ok {
			return KeyNonce{}, ErrGenerationGone
		}
		delete(r.skipped, gen)
		return k, nil
	}
	if g-r.next > MaxForwardGenerations {
		return KeyNonce{}, ErrGenerationAhead
	}
	for r.next < g {
		k, err := r.step()
		if err != nil {
			return KeyNonce{}, err
		}
		if r.skipped == nil {
			r.skipped = map[uint32]KeyNonce{}
		}
		r.skipped[k.Generation] = k
	}
	k, err := r.step()
	if err != nil {
		return KeyNonce{}, err
	}
	r.evict()
	return k, nil
}

// evict deletes the kept keys more than MaxRetainedKeys generations behind
// the ratchet's next.
func (r *Ratchet) evict() {
	if r.next <= MaxRetainedKeys {
		return
	}
	oldest := r.next - MaxRetainedKeys
	for g, k := range r.skipped {
		if uint64(g) < oldest {
			k.Destroy()
			delete(r.skipped, g)
		}
	}
}

// Destroy zeros the ratchet secret and every kept key in place.
func (r *Ratchet) Destroy() {
	r.secret.Destroy()
	for g, k := range r.skipped {
		k.Destroy()
		delete(r.skipped, g)
	}
	r.next = generationLimit
}

// String describes the ratchet and never its secrets.
func (r Ratchet) String() string {
	return fmt.Sprintf("keying.Ratchet{next generation %d, %d kept keys, secrets redacted}", r.next, len(r.skipped))
}

// GoString is String.
func (r Ratchet) GoString() string { return r.String() }

// Format prints String for every verb.
func (r Ratchet) Format(f fmt.State, verb rune) { fmt.Fprint(f, r.String()) }

// Block is the cheap per-datagram form of one (sender, generation) key: the
// AEAD is built once, and datagram i of the block is protected with the
// generation's nonce XOR i (as TLS 1.3 and QUIC form nonces), for i below
// DatagramsPerBlock. Deriving a key per datagram would cost several times
// the AEAD itself; a block costs one derivation per DatagramsPerBlock
// datagrams. A Block is not safe for concurrent use.
//
// The key is zeroed once the AEAD is built; the AEAD's expanded key lives
// in the standard library's cipher object, which offers no way to erase it:
// Destroy drops it.
type Block struct {
	Generation uint32
	aead       cipher.AEAD
	nonce      [12]byte
	sent       uint32
	// scratch holds the nonce being used, so that handing it to the AEAD
	// interface does not move it to the heap on every datagram.
	scratch [12]byte
}

func newBlock(s *crypto.Suite, k KeyNonce) (*Block, error) {
	defer k.Destroy()
	a, err := s.NewAEAD(k.Key)
	if err != nil {
		return nil, err
	}
	b := &Block{Generation: k.Generation, aead: a}
	copy(b.nonce[:], k.Nonce)
	return b, nil
}

// NextBlock hands out the next generation as a Block, for sending. As with
// Next, the ratchet has moved past the generation when NextBlock returns.
func (r *Ratchet) NextBlock() (*Block, error) {
	k, err := r.Next()
	if err != nil {
		return nil, err
	}
	return newBlock(r.suite, k)
}

// Block hands out generation gen as a Block, for receiving the datagrams of
// that block; the rules of Key apply.
func (r *Ratchet) Block(gen uint32) (*Block, error) {
	k, err := r.Key(gen)
	if err != nil {
		return nil, err
	}
	return newBlock(r.suite, k)
}

// nonceFor is the generation's nonce XOR the counter in its last bytes,
// written into the block's scratch space.
func (b *Block) nonceFor(counter uint32) []byte {
	b.scratch = b.nonce
	c := binary.BigEndian.Uint32(b.scratch[8:]) ^ counter
	binary.BigEndian.PutUint32(b.scratch[8:], c)
	return b.scratch[:]
}

// Remaining is how many more datagrams Seal will protect.
func (b *Block) Remaining() int { return DatagramsPerBlock - int(b.sent) }

// Seal protects the block's next datagram and appends it to dst. It
// returns the datagram's counter, which the receiver needs, and fails with
// ErrBlockExhausted once DatagramsPerBlock datagrams are sealed: the sender
// then takes the next block.
func (b *Block) Seal(dst, aad, plaintext []byte) (counter uint32, out []byte, err error) {
	if b.aead == nil || b.sent >= DatagramsPerBlock {
		return 0, dst, ErrBlockExhausted
	}
	counter = b.sent
	b.sent++
	return counter, b.aead.Seal(dst, b.nonceFor(counter), plaintext, aad), nil
}

// Open authenticates and decrypts datagram counter of the block, appending
// the plaintext to dst. Refusing replays is the caller's business: the
// counter is part of the nonce, so a datagram opens only under its own.
func (b *Block) Open(dst []byte, counter uint32, aad, ciphertext []byte) ([]byte, error) {
	if b.aead == nil {
		return nil, ErrBlockExhausted
	}
	if counter >= DatagramsPerBlock {
		return nil, ErrBlockCounter
	}
	out, err := b.aead.Open(dst, b.nonceFor(counter), ciphertext, aad)
	if err != nil {
		return nil, ErrOpen
	}
	return out, nil
}

// Destroy drops the AEAD and zeros the nonce.
func (b *Block) Destroy() {
	b.aead = nil
	clear(b.nonce[:])
	clear(b.scratch[:])
	b.sent = DatagramsPerBlock
}

// String describes the block and never its key.
func (b Block) String() string {
	return fmt.Sprintf("keying.Block{generation %d, %d sealed, key redacted}", b.Generation, b.sent)
}

// GoString is String.
func (b Block) GoString() string { return b.String() }

// Format prints String for every verb.
func (b Block) Format(f fmt.State, verb rune) { fmt.Fprint(f, b.String()) }
