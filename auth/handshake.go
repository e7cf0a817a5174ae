package auth

import (
	"errors"
	"io"
)

// Bounds every provider keeps to, so that any carrier that accepts them
// (membership's admission: 64 KiB a message, 8 messages) carries any
// provider.
const (
	// MaxMessage bounds one handshake message.
	MaxMessage = 65535
	// MaxMessages bounds the messages of one handshake.
	MaxMessages = 8
	// MinSecret is the least length of a handshake's secret.
	MinSecret = 32
)

// Errors every provider returns (wrapped, with its own detail).
var (
	// ErrState: a method called out of turn (Create when a message is
	// expected, anything after done or after a failure).
	ErrState = errors.New("auth: handshake method called out of turn")
	// ErrMessage: a message refused (malformed, too long, tampered,
	// from another attempt, from the wrong peer).
	ErrMessage = errors.New("auth: handshake message refused")
)

// State is where a handshake stands.
//
//	        Create                 Consume
//	  ┌──────────────┐       ┌──────────────┐
//	  ▼              │       ▼              │
//	StateCreate ─────┴─▶ StateConsume ──────┘   (alternating)
//	     │                    │
//	     └───────┬────────────┘
//	             ├──▶ StateDone    (the last message made or consumed)
//	             └──▶ StateFailed  (any error; the handshake is dead)
type State int

const (
	// StateCreate: this side sends next (Create).
	StateCreate State = iota
	// StateConsume: this side waits for the peer's message (Consume).
	StateConsume
	// StateDone: the handshake is complete; Result is valid.
	StateDone
	// StateFailed: a call failed; every later call fails with ErrState.
	StateFailed
)

func (s State) String() string {
	switch s {
	case StateCreate:
		return "create"
	case StateConsume:
		return "consume"
	case StateDone:
		return "done"
	case StateFailed:
		return "failed"
	}
	return "unknown"
}

// Result is what a completed handshake established.
type Result struct {
	// Peer is the other side's authenticated identity.
	Peer Identity
	// Secret is known only to the two sides and bound to the whole
	// transcript (prologue included): both sides have the same Secret
	// only if they saw the same messages. At least MinSecret bytes.
	Secret []byte
	// Transcript is the hash of the whole handshake transcript, equal on
	// both sides. It is not secret: anyone who saw the messages and knows
	// the prologue may compute it.
	Transcript []byte
}

// Handshake is one side of a handshake, a state machine in the manner of
// wireguard-go's Create/Consume pairs. The initiator Creates first; then
// each side Consumes the other's message and Creates its own in turn,
// until a call reports done.
//
// Error contract: a Create or Consume that fails returns an error wrapping
// ErrState or ErrMessage (or, for Create, the random source's error) and
// leaves the handshake dead (StateFailed): a failed Consume tells the
// network nothing, the caller sends no reply and starts a new attempt if it
// wants one. Errors never contain key material or payload bytes.
//
// Determinism: a handshake's messages, payloads and result are a function
// of the credentials, the prologue, the bytes it read from its random
// source and the calls made, nothing else (no clock, no global state), so
// a simulation replays it exactly, and a caller that must outlive a forged
// message can rebuild a dead handshake by replaying the same randomness and
// the calls that succeeded.
//
// Buffers: Create does not retain payload and returns a new msg the caller
// owns; Consume does not retain msg and returns a new payload the caller
// owns. A Handshake is not safe for concurrent use.
type Handshake interface {
	// Create returns this side's next message carrying payload, and
	// whether this side is done once it is sent.
	Create(payload []byte) (msg []byte, done bool, err error)
	// Consume takes the peer's next message and returns the payload it
	// carried, and whether this side is done.
	Consume(msg []byte) (payload []byte, done bool, err error)
	// State says where the handshake stands.
	State() State
	// Result returns, once the state is StateDone, what the handshake
	// established; before, it returns an error wrapping ErrState. The
	// caller owns the returned slices.
	Result() (Result, error)
}

// Credential is this process's credential for one provider: it starts
// handshakes as either side. Its methods may be called concurrently; each
// Handshake they return is used by one goroutine.
type Credential interface {
	// Provider names the kind of credential ("noise").
	Provider() string
	// Identity is this process's own identity, as peers will see it.
	Identity() Identity
	// Initiate starts the initiator's side (the joiner). prologue binds
	// the attempt's context (see Prologue). peer, when not nil, is the
	// identity the responder must prove; a provider may use it to save a
	// message (Noise IK). rand is the only source of randomness.
	Initiate(prologue []byte, peer *Identity, rand io.Reader) (Handshake, error)
	// Respond starts the responder's side (the coordinator).
	Respond(prologue []byte, rand io.Reader) (Handshake, error)
}
