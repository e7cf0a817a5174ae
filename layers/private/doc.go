// Package private seals point-to-point messages (Send) under a key only
// the sender and the recipient can derive, so that a third member of the
// view, who holds every epoch key and sees every datagram, reads nothing
// of them.
//
// It sits directly above pt2pt (reliable FIFO point-to-point):
//
//	frag, mflow, stable     Send ▼  ▲ delivery
//	private                 seal per pair, open, drop what fails
//	pt2pt                   reliable FIFO per pair
//	sign, mnak, bundle, encrypt, bottom
//
// Casts and other layers' control messages pass untouched; so does a Send
// to oneself, which never leaves the process.
//
// # Pair keys
//
// Each direction of each pair of members has its own key in each view. The
// first time a member sends to another in a view, it draws a fresh pair
// secret (KDF.Nh bytes, from crypto/rand), encrypts it with HPKE in base
// mode (RFC 9180 §5.1.1) to the recipient's leaf HPKE key of the epoch
// (crypto.Suite.EncryptWithLabel, the labelled HPKE that MLS welcomes use:
// the crypto package offers no HPKE exporter, whose secret would have
// served as the key without one to carry), signs the context, the
// encapsulation and the encrypted secret with its own signature key of the
// epoch, and sends all three to the recipient in a KEY message of its own,
// just before the first DATA message. The recipient checks the signature
// against the sender's leaf signature key, decrypts the secret, and both
// expand it into the AEAD key and the nonce base (ExpandWithLabel, labels
// "conclave private key" and "conclave private nonce") and erase it. The
// HPKE info, the signature and both expansions bind the context
//
//	group u64 | view u64 | epoch u64 | sender rank u32 | recipient rank u32 | first counter u64
//
// so a key is good for one direction of one pair in one view and epoch.
//
// What this gives. A third member, though it holds every group key of the
// epoch and sees every datagram, can open neither the HPKE ciphertext (it
// lacks the recipient's leaf private key) nor, therefore, the messages.
// And since the recipient knows that the claimed sender made the key
// (HPKE's base mode alone would not tell it: anyone can encrypt to a
// public key), a message that opens under it comes from that sender: no
// other member can send a Send in another's name, which encrypt's group
// keys alone do not prevent.
//
// The KEY message travels on its own rather than in front of the first
// message because X-Wing's encapsulation is 1120 bytes, which does not fit
// beside a fragment of a full datagram. With X-Wing the KEY message is
// 1238 bytes (1120 enc, 48 wrapped, 64 signature, 6 of kind and lengths),
// the largest of the suites; a sender whose KEY message would leave less
// than layers.HeadRoom of MaxDatagram for the headers below refuses to
// send ("key_too_large", "unprotected"), since the receiver would drop the
// datagram and pt2pt resend it for ever.
//
// Messages are AEAD-sealed with a per-pair counter: nonce = nonce base XOR
// counter (in its last eight bytes), additional data = group, view, epoch,
// sender rank, recipient rank, kind, counter. A key seals at most
// RekeyAfter messages (at most MaxRekeyAfter, 2^23, AES-GCM's
// confidentiality limit); the sender then establishes the next key with a
// new KEY message, whose first counter is the next one. One key per pair
// direction is held, the previous one erased when the next is installed.
//
// # Order, and what if it were not kept
//
// pt2pt delivers each pair's messages exactly once and in the order sent,
// so a KEY message always arrives before the DATA messages it keys. Were
// that order not kept (another layer below, a lost message), the outcome is
// loss, never exposure or acceptance of a forgery: a DATA message that
// arrives before its key, or under an older one, fails to open and is
// dropped ("no_key", "auth"); and since counters only go up, a late KEY
// or DATA message is refused as a replay. Nothing is buffered for a key
// that may never come, so an attacker cannot make a member hold anything.
//
// # Headers
//
//	DATA  kind 1, counter uvarint (< 2^62), then the AEAD ciphertext
//	      (the message, then the tag)
//	KEY   kind 2, first counter uvarint (< 2^62), enc length uvarint
//	      (1 … MaxEnc), enc, wrapped length uvarint (exactly KDF.Nh plus
//	      the AEAD tag), wrapped, signature length uvarint
//	      (1 … MaxSignature), signature; nothing after
//
// A DATA message grows by at most MaxOverhead (26) bytes, within the head
// room (layers.HeadRoom) that frag leaves for the headers below it.
//
// # Hostile input
//
// Every length and counter is bounded before use. A receiver accepts a
// DATA counter only at or above the lowest it has not seen (the next after
// the last opened) and below its key's first counter plus MaxRekeyAfter,
// and a KEY only at or above that lowest counter and past its current
// key's first counter (a sender's next key starts there, so a KEY taken
// before and replayed under another pt2pt number is refused too, instead
// of verifying again in the place of a real message); anything else is dropped
// and counted ("malformed", "replay", "over_limit", "no_key", "auth",
// "signature", "key"). A forged KEY costs the receiver one signature
// verification, at most one per pt2pt message the forger gets through
// (and only a member gets any through encrypt). State per member is two
// pair keys per other member, fixed by the view's size: input cannot grow
// it.
//
// A member that injects a message into pt2pt's stream from another member
// (encrypt proves only that some member sent a datagram) takes up a pt2pt
// sequence number first, and pt2pt then takes the real message with that
// number as a duplicate. So a message from pt2pt that this layer cannot
// take, whatever the reason above but this member's own missing private
// key, is refused: the layer numbers each sender's messages as pt2pt
// delivers them, and sends ERefuseSend down with the refused one's
// number; pt2pt forgets it and what it holds after it and asks the sender
// again, and the real message is delivered in its place ("refused").
// What stays possible is delay: an insider that races every retransmission
// makes the member refuse again each time, at the cost of one failed open
// or one signature verification per copy it gets through.
//
// # The end of a view
//
// At EViewEnd every pair key is erased (the secret bytes zeroed; the
// standard library's expanded AEAD key schedule cannot be overwritten and
// is dropped), before the stack releases the epoch's keys.
//
// Without key material that implements Keys, every Send to another member
// is refused and counted ("unprotected") rather than sent readable.
package private
