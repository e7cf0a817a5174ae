// Package noise is the Noise credential provider of package auth: a
// process's credential is an X25519 static key pair, its identity the
// 32-byte public key, and two processes authenticate each other with a
// Noise handshake (github.com/flynn/noise), in the pattern
//
//	XX  when the initiator does not know the responder's key (3 messages):
//	      → e
//	      ← e, ee, s, es
//	      → s, se
//	IK  when it does (auth.Credential.Initiate with a peer; 2 messages):
//	      ← s                      (known beforehand)
//	      → e, es, s, ss
//	      ← e, ee, se
//
// with the protocol names Noise_XX_25519_ChaChaPoly_SHA256 and
// Noise_IK_25519_ChaChaPoly_SHA256. ChaCha20-Poly1305 because it is
// constant-time in software on every platform (AES-GCM is only where the CPU
// has AES instructions) and is what WireGuard uses; SHA-256 because the
// group's MLS cipher suite (0x0001) already rests on it, so the handshake
// adds no hash function to trust.
//
// Framing. flynn/noise does none. The first message of a handshake starts
// with two bytes, a version (1) and the pattern (1 for XX, 2 for IK), so that
// the responder knows which handshake to run; the pattern is also in the
// protocol name that starts the transcript, so changing the byte only makes
// the handshake fail. The other messages are the Noise messages as they are.
// The prologue given to Initiate and Respond (see auth.Prologue) is the
// Noise prologue. Every message is bounded (auth.MaxMessage) and its length
// checked against the pattern before any of it is processed; payloads are
// at most MaxPayload bytes.
//
// Payload protection, by message:
//
//	XX 1  in clear: Create refuses a payload, Consume a message with one;
//	      the message itself is not authenticated (a changed one is
//	      noticed when the initiator reads the answer, and fails there)
//	XX 2  encrypted, forward secret, from the authenticated responder, but
//	      to an initiator not yet authenticated (anyone may ask for it)
//	XX 3  encrypted, forward secret, both authenticated
//	IK 1  encrypted to the responder's static key (not forward secret if
//	      that key leaks, and replayable to the responder)
//	IK 2  encrypted, forward secret, both authenticated
//
// Result. The peer's Identity is {Provider: "noise", Name: the standard
// base64 of its public key (44 characters, as WireGuard writes keys),
// Fingerprint: auth.Fingerprint of the 32 bytes}. The Transcript is the
// Noise handshake hash (flynn/noise's ChannelBinding), which is public. The
// Secret is HKDF-SHA256 with the two final cipher states' keys as input key
// material, the handshake hash as salt and "conclave auth noise v1 secret"
// as info, 32 bytes: secret because of the keys, bound to the transcript
// because of the hash. (flynn/noise's Split returns the initiator→responder
// cipher state first and the responder→initiator one second, on both sides;
// the secret takes them in that order.) The cipher states themselves are
// not used further.
//
// Failures. Any error leaves the handshake dead, as package auth requires.
// This is also forced by flynn/noise: a ReadMessage that fails rolls back
// only the chaining key and the hash, not the cipher key, its nonce or the
// peer's ephemeral key, so a handshake state that failed once cannot be
// trusted again.
//
// Keys. PrivateKey and PublicKey, with text forms: a public key is written
// "noise:" followed by the standard base64 of its 32 bytes; a private key
// file is three lines (see MarshalPrivateKeyFile).
package noise
