package private

import (
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"time"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/layers"
)

// Config tunes the layer. Zero fields take the defaults.
type Config struct {
	// RekeyAfter is the number of messages one pair key seals before the
	// sender establishes the next; at most MaxRekeyAfter.
	RekeyAfter uint64
}

// Limits, from the specifications and of this implementation.
const (
	// MaxRekeyAfter is the most messages a pair key seals: 2^23, the
	// confidentiality limit RFC 9001 §6.6 sets for AES-GCM (the tightest
	// AEAD of the suites) with messages of up to 2^16 bytes, far above
	// this layer's datagram-sized fragments. A receiver refuses a counter
	// this far past its key's start, whatever the sender's Config.
	MaxRekeyAfter = 1 << 23
	// DefaultRekeyAfter is MaxRekeyAfter.
	DefaultRekeyAfter = MaxRekeyAfter
	// MaxEnc is the longest HPKE encapsulation accepted: X-Wing's, 1120
	// bytes, the longest of the suites (DHKEM(P-521) is 133).
	MaxEnc = 1120
	// MaxSignature is the longest signature accepted: ECDSA P-521's in
	// DER is at most 139 bytes, Ed25519's 64.
	MaxSignature = 144
	// MaxCounter bounds the counters read and sent, so that a counter
	// plus one, or plus MaxRekeyAfter, never wraps.
	MaxCounter = 1 << 62
	// MaxOverhead is the most bytes a DATA header and the AEAD tag add to
	// a message: what the layers above must leave room for, within
	// layers.HeadRoom (frag does).
	MaxOverhead = 1 + 9 + 16
)

// Message kinds, the first byte of the layer's header.
const (
	kindData = 1
	kindKey  = 2
)

// errKey is the failure to derive a pair key, which no well-formed suite
// gives.
var errKey = errors.New("private: cannot derive a pair key")

// hpkeLabel labels the HPKE encryption of a pair secret; crypto prefixes
// it with "MLS 1.0 ", and no MLS label is equal to it.
const hpkeLabel = "conclave private pair"

// signLabel labels the sender's signature over a KEY message: the
// context, the encapsulation and the encrypted secret.
const signLabel = "conclave private key"

// contextSize is the size of the context that binds a pair key: group,
// view, epoch, sender, recipient and the key's first counter.
const contextSize = 8 + 8 + 8 + 4 + 4 + 8

// aadSize is the size of a DATA message's additional data: the context's
// first 32 bytes (group, view, epoch, sender, recipient), kind, counter.
const aadSize = 32 + 1 + 8

// pairKey is one direction of one pair's key.
type pairKey struct {
	aead  cipher.AEAD
	key   crypto.Secret
	nonce crypto.Secret // the nonce base, XORed with the counter
	start uint64        // the first counter the key seals
	next  uint64        // out: the next counter to send; in: the lowest accepted
}

// erase zeroes the key's secrets. The cipher.AEAD's expanded key schedule
// is the standard library's and cannot be overwritten; it is dropped.
func (k *pairKey) erase() {
	k.key.Destroy()
	k.nonce.Destroy()
	k.aead = nil
}

// Layer is the private point-to-point layer.
type Layer struct {
	cfg   Config
	p     *layers.Port
	keys  Keys // nil: no key material, every Send is refused
	suite *crypto.Suite
	epoch uint64
	rank  int
	out   []pairKey // by recipient
	in    []pairKey // by sender
	// got counts, per sender, the messages pt2pt delivered from it: the
	// next one's number in pt2pt's stream, which a refusal names.
	got   []uint64
	ended bool
	// Scratch for the additional data and the nonce: arrays on the
	// stack would escape through the cipher.AEAD interface.
	aadBuf   [aadSize]byte
	nonceBuf [12]byte
	// random is where pair secrets come from. It is crypto/rand's reader,
	// as the HPKE encapsulation's ephemeral key is the standard library's
	// own: a pair secret is a key, which the stack's seeded Port.Rand
	// must never make.
	random io.Reader
}

// New returns a private point-to-point layer.
func New(cfg Config) *Layer {
	if cfg.RekeyAfter == 0 || cfg.RekeyAfter > MaxRekeyAfter {
		cfg.RekeyAfter = DefaultRekeyAfter
	}
	return &Layer{cfg: cfg, random: rand.Reader}
}

func (l *Layer) Name() string { return "private" }

func (l *Layer) Init(p *layers.Port) {
	l.p = p
	l.rank = p.View().Rank
	l.out = make([]pairKey, p.View().N)
	l.in = make([]pairKey, p.View().N)
	l.got = make([]uint64, p.View().N)
	if k, ok := p.Config().Keys.(Keys); ok && k.PairSuite() != nil {
		l.keys, l.suite, l.epoch = k, k.PairSuite(), k.PairEpoch()
	}
}

// Tick does nothing: the layer keeps no timers.
func (l *Layer) Tick(now time.Duration) {}

func (l *Layer) Down(ev *layers.Event) {
	switch {
	case ev.Type == layers.EViewEnd:
		l.end()
		l.p.Down(ev)
	case ev.Type != layers.ESend || ev.Peer == l.rank:
		// Casts, other layers' control messages, and a send to oneself,
		// which pt2pt delivers without its leaving the process.
		l.p.Down(ev)
	default:
		l.seal(ev)
	}
}

// end erases every pair key: the view is over.
func (l *Layer) end() {
	l.ended = true
	for i := range l.out {
		l.out[i].erase()
		l.in[i].erase()
	}
}

// seal sends a message to ev.Peer under the pair key, establishing it first
// if there is none or it has sealed its share.
func (l *Layer) seal(ev *layers.Event) {
	to := ev.Peer
	pk := &l.out[to]
	if l.ended || l.keys == nil || pk.next >= MaxCounter {
		l.p.Count("unprotected", 1)
		return
	}
	if pk.aead == nil || pk.next-pk.start >= l.cfg.RekeyAfter {
		if !l.establish(to) {
			l.p.Count("unprotected", 1)
			return
		}
	}
	c := pk.next
	pk.next++
	var hb [10]byte
	h := wire.AppendUvarint(append(hb[:0], kindData), c)
	// One buffer for header, plaintext and tag, sealed in place.
	buf := make([]byte, len(h), len(h)+ev.Msg.Len()+l.suite.Overhead())
	copy(buf, h)
	buf = ev.Msg.AppendTo(buf)
	l.aad(&l.aadBuf, l.rank, to, c)
	sealed := pk.aead.Seal(buf[len(h):len(h)], pk.nonceFor(&l.nonceBuf, c), buf[len(h):], l.aadBuf[:])
	ev.Msg = layers.NewMessage(buf[:len(h)+len(sealed)])
	l.p.Down(ev)
}

// establish makes a new key for the pair (this member, to), starting at
// the next counter, and sends it to the recipient in a KEY message: a
// fresh pair secret, HPKE-encrypted to the recipient's leaf key of the
// epoch with the pair's context as info.
func (l *Layer) establish(to int) bool {
	pub := l.keys.PairPublicKey(to)
	if pub == nil {
		return false
	}
	pk := &l.out[to]
	start := pk.next
	secret := make(crypto.Secret, l.suite.HashSize())
	defer secret.Zero()
	if _, err := io.ReadFull(l.random, secret); err != nil {
		return false
	}
	var ctx [contextSize]byte
	l.context(&ctx, l.rank, to, start)
	enc, wrapped, err := l.suite.EncryptWithLabel(pub, hpkeLabel, ctx[:], secret)
	if err != nil {
		return false
	}
	k, err := l.derive(secret, &ctx, start)
	if err != nil {
		return false
	}
	sig, err := l.keys.SenderSign(signLabel, signed(&ctx, enc, wrapped))
	if err != nil {
		k.erase()
		return false
	}
	if size := 1 + 4*10 + len(enc) + len(wrapped) + len(sig); size+layers.HeadRoom > l.p.Config().MaxDatagram {
		// The headers below would push it past the datagram size: the
		// receiver would drop it, and pt2pt resend it, for ever.
		k.erase()
		l.p.Count("key_too_large", 1)
		return false
	}
	pk.erase()
	*pk = k
	b := make([]byte, 0, 1+4*10+len(enc)+len(wrapped)+len(sig))
	b = append(b, kindKey)
	b = wire.AppendUvarint(b, start)
	b = wire.AppendUvarint(b, uint64(len(enc)))
	b = append(b, enc...)
	b = wire.AppendUvarint(b, uint64(len(wrapped)))
	b = append(b, wrapped...)
	b = wire.AppendUvarint(b, uint64(len(sig)))
	b = append(b, sig...)
	ev := l.p.NewEvent(layers.ESend, to)
	ev.Msg.Body = b
	l.p.Count("keys_sent", 1)
	l.p.Down(ev)
	l.p.FreeEvent(ev)
	return true
}

// signed is what the sender of a KEY message signs: the pair's context,
// the encapsulation and the encrypted secret.
func signed(ctx *[contextSize]byte, enc, wrapped []byte) []byte {
	return append(append(append(make([]byte, 0, contextSize+len(enc)+len(wrapped)), ctx[:]...), enc...), wrapped...)
}

// derive makes a pair key from its secret: the AEAD key and the nonce base,
// each expanded with the pair's context.
func (l *Layer) derive(secret crypto.Secret, ctx *[contextSize]byte, start uint64) (pairKey, error) {
	key, err := l.suite.ExpandWithLabel(secret, "conclave private key", ctx[:], l.suite.KeySize())
	if err != nil {
		return pairKey{}, err
	}
	nonce, err := l.suite.ExpandWithLabel(secret, "conclave private nonce", ctx[:], l.suite.NonceSize())
	if err != nil {
		key.Destroy()
		return pairKey{}, err
	}
	aead, err := l.suite.NewAEAD(key)
	if err != nil || len(nonce) != 12 {
		key.Destroy()
		nonce.Destroy()
		return pairKey{}, errKey
	}
	return pairKey{aead: aead, key: key, nonce: nonce, start: start, next: start}, nil
}

// nonceFor is the nonce of counter c: the nonce base with c XORed into its
// last eight bytes.
func (k *pairKey) nonceFor(n *[12]byte, c uint64) []byte {
	copy(n[:], k.nonce)
	binary.BigEndian.PutUint64(n[4:], binary.BigEndian.Uint64(n[4:])^c)
	return n[:]
}

// context writes the context that binds a pair key.
func (l *Layer) context(ctx *[contextSize]byte, from, to int, start uint64) {
	v := l.p.View()
	binary.BigEndian.PutUint64(ctx[0:], v.Group)
	binary.BigEndian.PutUint64(ctx[8:], v.ID)
	binary.BigEndian.PutUint64(ctx[16:], l.epoch)
	binary.BigEndian.PutUint32(ctx[24:], uint32(from))
	binary.BigEndian.PutUint32(ctx[28:], uint32(to))
	binary.BigEndian.PutUint64(ctx[32:], start)
}

// aad writes a DATA message's additional data.
func (l *Layer) aad(a *[aadSize]byte, from, to int, c uint64) {
	v := l.p.View()
	binary.BigEndian.PutUint64(a[0:], v.Group)
	binary.BigEndian.PutUint64(a[8:], v.ID)
	binary.BigEndian.PutUint64(a[16:], l.epoch)
	binary.BigEndian.PutUint32(a[24:], uint32(from))
	binary.BigEndian.PutUint32(a[28:], uint32(to))
	a[32] = kindData
	binary.BigEndian.PutUint64(a[33:], c)
}

func (l *Layer) Up(ev *layers.Event) {
	if ev.Type != layers.ESend || ev.Peer == l.rank {
		// A send to oneself comes back up from pt2pt unsealed; the bottom
		// layer drops any datagram that names this member as its sender.
		l.p.Up(ev)
		return
	}
	from := ev.Peer
	if from < 0 || from >= len(l.got) {
		l.p.Drop("malformed")
		return
	}
	seq := l.got[from]
	l.got[from]++
	b := ev.Msg.Bytes()
	r := wire.NewReader(b)
	forged := true
	switch r.Byte() {
	case kindData:
		forged = l.open(ev, &r)
	case kindKey:
		forged = l.accept(from, &r)
	default:
		l.p.Drop("malformed")
	}
	if forged && l.keys != nil && !l.ended {
		l.refuse(from, seq)
	}
}

// refuse tells pt2pt below that message seq from peer, which it delivered
// and this layer could not take, is not what peer sent (ERefuseSend):
// pt2pt takes only the first copy of each, and an insider's, sealed under
// the group's keys, may have come before the real one, which then never
// opened here. pt2pt forgets it and fetches it again, and this layer
// numbers the stream back from seq.
func (l *Layer) refuse(peer int, seq uint64) {
	l.got[peer] = seq
	l.p.Count("refused", 1)
	ev := l.p.NewEvent(layers.ERefuseSend, peer)
	ev.Seq = seq
	l.p.Down(ev)
	l.p.FreeEvent(ev)
}

// open reads a DATA message and delivers its plaintext. It reports
// whether it refused the message as one its sender did not send.
func (l *Layer) open(ev *layers.Event, r *wire.Reader) (forged bool) {
	c := r.UvarintMax(MaxCounter - 1)
	if r.Err() != nil || l.keys == nil || r.Len() < l.suite.Overhead() {
		l.p.Drop("malformed")
		return true
	}
	from := ev.Peer
	pk := &l.in[from]
	switch {
	case pk.aead == nil:
		// No KEY came first, as the sender sends one: an insider's copy
		// took the KEY's place, or this one's.
		l.p.Drop("no_key")
		return l.keys.PairPrivateKey() != nil
	case c < pk.next:
		l.p.Drop("replay")
		return true
	case c-pk.start >= MaxRekeyAfter:
		l.p.Drop("over_limit")
		return true
	}
	l.aad(&l.aadBuf, from, l.rank, c)
	ct := r.Rest()
	pt, err := pk.aead.Open(make([]byte, 0, len(ct)-l.suite.Overhead()), pk.nonceFor(&l.nonceBuf, c), ct, l.aadBuf[:])
	if err != nil {
		l.p.Drop("auth")
		return true
	}
	pk.next = c + 1
	ev.Msg = layers.NewMessage(pt)
	l.p.Up(ev)
	return false
}

// accept reads a KEY message and installs the pair key it carries. It
// reports whether it refused the message as one its sender did not send:
// not when this member lacks its own private key, which no copy mends.
func (l *Layer) accept(from int, r *wire.Reader) (forged bool) {
	c := r.UvarintMax(MaxCounter - 1)
	n := r.UvarintMax(MaxEnc)
	enc := r.Bytes(int(n))
	w := r.UvarintMax(MaxEnc)
	wrapped := r.Bytes(int(w))
	m := r.UvarintMax(MaxSignature)
	sig := r.Bytes(int(m))
	if r.Done() != nil || n == 0 || m == 0 || l.keys == nil || int(w) != l.suite.HashSize()+l.suite.Overhead() {
		l.p.Drop("malformed")
		return true
	}
	pk := &l.in[from]
	if c < pk.next || pk.aead != nil && c <= pk.start || l.ended {
		// A sender's next key starts past its current one's first
		// counter: a KEY that does not is one taken before, replayed
		// under another of pt2pt's numbers, where it would otherwise
		// verify and make the real message of that number a duplicate.
		l.p.Drop("replay")
		return true
	}
	priv := l.keys.PairPrivateKey()
	if priv == nil {
		l.p.Drop("no_key")
		return false
	}
	var ctx [contextSize]byte
	l.context(&ctx, from, l.rank, c)
	if !l.keys.SenderVerify(from, signLabel, signed(&ctx, enc, wrapped), sig) {
		l.p.Drop("signature")
		return true
	}
	pt, err := l.suite.DecryptWithLabel(priv, hpkeLabel, ctx[:], enc, wrapped)
	secret := crypto.Secret(pt)
	defer secret.Zero()
	if err != nil || len(secret) != l.suite.HashSize() {
		l.p.Drop("key")
		return true
	}
	k, err := l.derive(secret, &ctx, c)
	if err != nil {
		l.p.Drop("key")
		return true
	}
	pk.erase()
	*pk = k
	l.p.Count("keys_accepted", 1)
	return false
}
