// Package auth is the interface between Conclave and the credential
// providers that admit a process to a group: a Noise static key
// (auth/noise), and later a Kerberos principal or an OpenPGP key.
//
// A provider is a pure handshake state machine: it makes and consumes
// messages, and does no I/O, reads no clock, and draws randomness only from
// the reader it is given. Whatever carries the messages (membership's
// admission, a test) frames them, retransmits them and times them out. Once
// a handshake is done it yields the peer's authenticated Identity, a secret
// that only the two sides know and that is bound to the whole transcript
// (channel binding), and the transcript hash.
//
// The side that asks to join initiates; the coordinator it asks responds.
// Both bind the attempt's context (the coordinator's fresh nonce, both
// endpoints) into the handshake through the prologue built by Prologue, so
// that no message of one attempt is accepted in another:
//
//	joiner (Initiate)                 coordinator (Respond)
//	Create(payload) ── msg 1 ──▶      Consume → payload
//	Consume        ◀── msg 2 ──       Create(payload)
//	Create(payload) ── msg 3 ──▶      Consume          (as many as the
//	…                                                   provider needs)
//	done: Result                      done: Result
//
// Messages carry an application payload (a joiner's key package, say). How
// well each message's payload is protected depends on the provider and on
// the message's place in the handshake; each provider documents it, and
// refuses a payload where it would travel without the protection it says.
//
// Providers of different shapes fit the same interface: Noise XX takes three
// messages (IK two); Kerberos an AP-REQ and an AP-REP, with one message
// before them when the joiner must first learn the coordinator's principal;
// an OpenPGP station-to-station exchange three.
package auth
