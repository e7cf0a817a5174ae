// Package keying is Conclave's group key management: an MLS-style ratchet
// tree (RFC 9420) whose commits ride on Conclave's view changes.
//
// Every view change of a secure group is an MLS epoch. The group key must
// change with every view so that a member that left cannot read what follows
// (forward secrecy), a joiner cannot read what came before, and a member
// whose keys leaked recovers once it has updated (post-compromise security),
// at O(log n) work per change and with no key server that holds every key.
//
// The pieces, each in its own file:
//
//   - tree math on the array representation of a left-balanced binary tree
//     (treemath.go);
//   - the public ratchet tree (ratchettree.go, leafnode.go, parentnode.go,
//     treevalidate.go): leaves and parents with HPKE public keys, blank
//     nodes, unmerged leaves, cached tree hashes and parent hashes;
//   - TreeKEM update paths (treekem.go), drawn ahead of the commit that
//     uses them (precompute.go), proposals and the tree edits they
//     make (proposal.go, treeops.go), commits (commit.go), key packages and
//     welcomes (keypackage.go, welcome.go), and a member's whole group state
//     with its saved form (group.go, state_marshal.go);
//   - GroupContext (groupcontext.go): the group's identity, epoch, tree hash,
//     confirmed transcript hash and extensions, among them the
//     ConclaveContext extension (conclavecontext.go) binding the view id,
//     member list and policy hash into every key;
//   - the key schedule (schedule.go, RFC 9420 §8): from init, commit and PSK
//     secrets and the group context to the epoch secret and its derived
//     secrets, confirmation tags and the exporter; transcript hashes
//     (transcript.go);
//   - the secret tree (secrettree.go, RFC 9420 §9): per-sender handshake and
//     application ratchets with generations, a bounded out-of-order window,
//     and per-generation blocks of datagram keys with a counter nonce;
//   - the saved form of an epoch's secrets and secret tree positions
//     (epochstate.go), from which a restarted sender never reuses a
//     (key, nonce) pair.
//
// Wherever RFC 9420 defines a computation, keying computes exactly the same
// thing, so that the MLS working group's interop vectors (testdata/) check
// it; Conclave's own wire protocol is not MLS's. Structures are encoded with
// internal/mlsenc, whose decoding is strict.
//
// The package is pure: it does no I/O and reads no clock, and all randomness
// comes from an io.Reader the caller passes in, so that the simulator can
// replay every run (HPKE's ephemeral keys and ECDSA nonces excepted: since
// Go 1.26 the standard library draws those itself; see package crypto).
// Secrets are handed out as crypto.Secret, which never prints its bytes, and
// are zeroed when retired (Destroy).
package keying
