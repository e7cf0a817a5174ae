// Package encrypt is the layer that protects every datagram of a secured
// group: directly above the bottom layer, it seals every byte after the
// bottom header (bundles, sequence numbers, NAKs, retransmissions, gossip,
// fragments, order) with the AEAD of the epoch's cipher suite, under the
// sending member's key from the epoch's secret tree (RFC 9420 §9).
//
// # Wire format
//
// After the bottom header:
//
//	dest        byte     0: every member, 1: the receiver alone
//	generation  uvarint  < 2^32, of the sender's application ratchet
//	counter     uvarint  < keying.DatagramsPerBlock, in that generation
//	sealed      bytes    the payload sealed, with the AEAD's 16-byte tag
//
// The nonce is the generation's nonce XOR the counter (keying.Block): a
// sender seals each (generation, counter) once and moves to the next
// generation after DatagramsPerBlock datagrams, 1/128 of the AEAD's usage
// limit per key, with no view change needed. The additional data is a mode
// byte, the bottom header exactly as the bottom layer writes it (version,
// group, view, sender rank, type) and the destination (uvarint: 0 for all
// members, 1+rank for one), so that a datagram cannot be moved to another
// group, view, sender, type, or from one member's stream to another's;
// then zeros up to a whole number of 16-byte blocks, the blocks of GHASH
// and Poly1305. The fields are self-delimiting, so the padding leaves
// distinct fields distinct; it spares AES-GCM's assembly the byte-by-byte
// path it takes for a partial last block of additional data.
//
// In integrity-only mode (Config.IntegrityOnly) the payload travels in
// clear: the header and checks are the same, and the AEAD seals an empty
// plaintext with the payload appended to the padded additional data, so
// that the tag authenticates it.
//
// # What it proves
//
// A datagram that opens was sealed by some member of the epoch, for this
// group, view, destination and type, and was not accepted before: every
// member can derive every sender's key from the secret tree, so it does
// not prove which member sent it (layers/sign does). Datagrams of other
// epochs, of outsiders, replays and altered datagrams are dropped and
// counted (drop.forged, drop.replay), as are malformed headers
// (drop.malformed), generations outside the window (drop.generation) and,
// in a stack whose Keys are missing or of another type, everything
// (drop.no_keys). On the way down, what cannot be sealed is not sent, and
// counted the same way (drop.no_keys; drop.seal if the sealer fails;
// drop.exhausted after 2^48 datagrams of one sender in one epoch).
// A replay is refused (Port.Drop), not ignored as a harmless duplicate:
// the datagram is then not accepted, so that an outsider replaying a
// failed member's datagrams does not keep it alive in the failure
// detector's eyes.
//
// # Bounds
//
// Every number of the header is bounded before arithmetic: the generation
// below 2^32, the counter below DatagramsPerBlock, and the generation
// within [g-1, g+MaxGenerationsAhead] of the newest generation g the
// sender has authenticated (0 … MaxGenerationsAhead before any). A hostile
// generation can therefore make a receiver derive at most
// MaxGenerationsAhead+1 keys per sender until that sender's next genuine
// datagram. Per sender the layer keeps a replay window of ReplayWindow
// datagrams (RFC 6479's bitmap, 280 bytes with its bookkeeping) and at
// most MaxGenerationsAhead+2 generations' AEADs (about 450 bytes each,
// counted as 1 KiB in FootprintBound), those below g-1 erased as g
// advances: N·(280 + 6·1024) bytes at most for N members, about
// N·(280 + 2·450) in a group at work.
//
// The layer is pure: it assigns generations and counters and checks
// replays; sealing and opening are a Sealer's, by default the keying
// blocks of the epoch's secret tree (Keys). At the end of the view it
// drops its keys; the stack then releases the epoch's key material.
//
// # Cost
//
// A datagram is sealed straight into the stack's packet buffer
// (layers.Port.Buffer) and opened in place, and the default sealer's
// block is reached without an interface: besides the AEAD, a datagram
// costs its header, its additional data and the replay window, and
// nothing allocates. BenchmarkRatio measures the cost against the raw
// AEAD's, sealed and opened alike.
package encrypt
