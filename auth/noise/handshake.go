package noise

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
	"io"

	"github.com/conclave-go/conclave/auth"
	fnoise "github.com/flynn/noise"
)

// Specification constants: the framing of the first message.
const (
	// version is the first byte of every handshake's first message.
	version = 1
	// headerLen is the length of the first message's header.
	headerLen = 2
	// patternXX and patternIK are the header's second byte.
	patternXX = 1
	patternIK = 2
)

// Implementation constants.
const (
	// dhLen is the length of an X25519 public key in a message.
	dhLen = 32
	// tagLen is the length of a ChaCha20-Poly1305 tag.
	tagLen = 16
	// maxOverhead is the most any message of XX or IK adds to its
	// payload: the header, an ephemeral key, an encrypted static key and
	// the payload's tag (IK 1).
	maxOverhead = headerLen + dhLen + dhLen + tagLen + tagLen
	// MaxPayload bounds the payload of one message.
	MaxPayload = auth.MaxMessage - maxOverhead
	// secretLabel is the HKDF info of Result.Secret.
	secretLabel = "conclave auth noise v1 secret"
	// secretLen is the length of Result.Secret.
	secretLen = 32
)

// suite is the one cipher suite (see the package doc for the choice).
var suite = fnoise.NewCipherSuite(fnoise.DH25519, fnoise.CipherChaChaPoly, fnoise.HashSHA256)

// patterns holds, per pattern byte, the Noise pattern and the exact length
// of each message without its payload (and, for the first, its header).
var patterns = map[byte]struct {
	p     fnoise.HandshakePattern
	fixed []int
}{
	patternXX: {fnoise.HandshakeXX, []int{dhLen, dhLen + dhLen + tagLen + tagLen, dhLen + tagLen + tagLen}},
	patternIK: {fnoise.HandshakeIK, []int{dhLen + dhLen + tagLen + tagLen, dhLen + tagLen}},
}

// handshake is one side of a Noise handshake (auth.Handshake).
type handshake struct {
	state     auth.State
	initiator bool
	pattern   byte // 0 at a responder until the first message
	step      int  // messages made and consumed so far
	hs        *fnoise.HandshakeState
	cfg       fnoise.Config // kept by a responder until the first message
	want      *PublicKey    // IK: the responder's key the initiator expects
	result    auth.Result
}

var _ auth.Handshake = (*handshake)(nil)

func config(key *PrivateKey, prologue []byte, initiator bool, rand io.Reader) fnoise.Config {
	return fnoise.Config{
		CipherSuite:   suite,
		Random:        rand,
		Initiator:     initiator,
		Prologue:      append([]byte(nil), prologue...),
		StaticKeypair: fnoise.DHKey{Private: key.Bytes(), Public: append([]byte(nil), key.pub[:]...)},
	}
}

func newInitiator(key *PrivateKey, prologue []byte, pattern byte, peer *PublicKey, rand io.Reader) (*handshake, error) {
	cfg := config(key, prologue, true, rand)
	cfg.Pattern = patterns[pattern].p
	if peer != nil {
		cfg.PeerStatic = append([]byte(nil), peer[:]...)
	}
	hs, err := fnoise.NewHandshakeState(cfg)
	if err != nil {
		return nil, fmt.Errorf("noise: starting handshake: %v", err)
	}
	return &handshake{state: auth.StateCreate, initiator: true, pattern: pattern, hs: hs, want: peer}, nil
}

func newResponder(key *PrivateKey, prologue []byte, rand io.Reader) *handshake {
	return &handshake{state: auth.StateConsume, cfg: config(key, prologue, false, rand)}
}

func (h *handshake) State() auth.State { return h.state }

// fail kills the handshake and returns err.
func (h *handshake) fail(err error) error {
	h.state = auth.StateFailed
	h.hs = nil
	h.cfg = fnoise.Config{}
	return err
}

func (h *handshake) refuse(format string, args ...any) error {
	return h.fail(fmt.Errorf("noise: message %d: %s: %w", h.step+1, fmt.Sprintf(format, args...), auth.ErrMessage))
}

// last reports whether message number step (from 0) ends the handshake.
func (h *handshake) last() bool { return h.step == len(patterns[h.pattern].fixed)-1 }

func (h *handshake) Create(payload []byte) ([]byte, bool, error) {
	if h.state != auth.StateCreate {
		return nil, false, h.fail(fmt.Errorf("noise: create in state %v: %w", h.state, auth.ErrState))
	}
	if len(payload) > MaxPayload {
		return nil, false, h.fail(fmt.Errorf("noise: payload of %d bytes, at most %d", len(payload), MaxPayload))
	}
	if h.pattern == patternXX && h.step == 0 && len(payload) > 0 {
		return nil, false, h.fail(fmt.Errorf("noise: the first message of XX carries no payload (it would travel in clear)"))
	}
	var out []byte
	if h.step == 0 {
		out = []byte{version, h.pattern}
	}
	out, cs1, cs2, err := h.hs.WriteMessage(out, payload)
	if err != nil {
		// Only the random source or a small-order key (refused before)
		// makes WriteMessage fail; its text holds no secret.
		return nil, false, h.fail(fmt.Errorf("noise: writing message %d: %v", h.step+1, err))
	}
	done := h.last()
	h.step++
	if done {
		if err := h.finish(cs1, cs2); err != nil {
			return nil, false, err
		}
		return out, true, nil
	}
	h.state = auth.StateConsume
	return out, false, nil
}

func (h *handshake) Consume(msg []byte) ([]byte, bool, error) {
	if h.state != auth.StateConsume {
		return nil, false, h.fail(fmt.Errorf("noise: consume in state %v: %w", h.state, auth.ErrState))
	}
	if len(msg) > auth.MaxMessage {
		return nil, false, h.refuse("%d bytes, at most %d", len(msg), auth.MaxMessage)
	}
	body := msg
	if h.step == 0 {
		if len(msg) < headerLen {
			return nil, false, h.refuse("no header")
		}
		if msg[0] != version {
			return nil, false, h.refuse("version %d, want %d", msg[0], version)
		}
		pt, ok := patterns[msg[1]]
		if !ok {
			return nil, false, h.refuse("unknown pattern %d", msg[1])
		}
		h.pattern = msg[1]
		h.cfg.Pattern = pt.p
		hs, err := fnoise.NewHandshakeState(h.cfg)
		h.cfg = fnoise.Config{}
		if err != nil {
			return nil, false, h.fail(fmt.Errorf("noise: starting handshake: %v", err))
		}
		h.hs = hs
		body = msg[headerLen:]
	}
	fixed := patterns[h.pattern].fixed[h.step]
	if len(body) < fixed {
		return nil, false, h.refuse("%d bytes, at least %d", len(body), fixed)
	}
	if h.pattern == patternXX && h.step == 0 && len(body) != fixed {
		return nil, false, h.refuse("a payload in clear")
	}
	payload, cs1, cs2, err := h.hs.ReadMessage(nil, body)
	if err != nil {
		// flynn/noise's errors say which check failed, never a key.
		return nil, false, h.refuse("%v", err)
	}
	done := h.last()
	h.step++
	if done {
		if err := h.finish(cs1, cs2); err != nil {
			return nil, false, err
		}
		return payload, true, nil
	}
	h.state = auth.StateCreate
	return payload, false, nil
}

// finish checks the peer's key and computes the result.
func (h *handshake) finish(cs1, cs2 *fnoise.CipherState) error {
	if cs1 == nil || cs2 == nil {
		return h.fail(fmt.Errorf("noise: handshake ended without cipher states: %w", auth.ErrState))
	}
	rs := h.hs.PeerStatic()
	if len(rs) != KeySize {
		return h.fail(fmt.Errorf("noise: no peer key at the end: %w", auth.ErrMessage))
	}
	// A peer key of small order never gets here: the DH with it gives
	// zero, which X25519 refuses, and so ReadMessage failed.
	var peer PublicKey
	copy(peer[:], rs)
	if h.want != nil && !peer.Equal(*h.want) {
		// IK makes this impossible (the responder could not have
		// read message 1); checked all the same.
		return h.fail(fmt.Errorf("noise: responder is not the expected key: %w", auth.ErrMessage))
	}
	transcript := append([]byte(nil), h.hs.ChannelBinding()...)
	k1, k2 := cs1.UnsafeKey(), cs2.UnsafeKey()
	ikm := make([]byte, 0, 2*len(k1))
	ikm = append(append(ikm, k1[:]...), k2[:]...)
	secret, err := hkdf.Key(sha256.New, ikm, transcript, secretLabel, secretLen)
	clear(ikm)
	clear(k1[:])
	clear(k2[:])
	if err != nil {
		return h.fail(fmt.Errorf("noise: deriving the secret: %v", err))
	}
	h.result = auth.Result{Peer: peer.Identity(), Secret: secret, Transcript: transcript}
	h.hs = nil
	h.state = auth.StateDone
	return nil
}

func (h *handshake) Result() (auth.Result, error) {
	if h.state != auth.StateDone {
		return auth.Result{}, fmt.Errorf("noise: result in state %v: %w", h.state, auth.ErrState)
	}
	r := h.result
	r.Secret = append([]byte(nil), r.Secret...)
	r.Transcript = append([]byte(nil), r.Transcript...)
	return r, nil
}
