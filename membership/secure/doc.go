// Package secure is the membership participant that makes a Conclave group
// secure: only processes whose credential the group's admission check
// allows become members, every view has its own MLS epoch agreed inside the
// view change, and every control message is authenticated.
//
// It plugs into package membership as its Participant (and Rekeyer and
// Describer), and leans on three packages for the cryptography: auth for
// the admission handshake (a Noise static key, say), keying for the
// ratchet tree and its epochs, crypto for the cipher suite.
//
// Admission. A joiner (or the coordinator of a view being absorbed) runs
// its credential's handshake with the absorbing coordinator, bound to the
// coordinator's nonce and both endpoints. In its last message, where the
// handshake encrypts it, the joiner sends its roster: for each member of
// its installed view, the endpoint, the identity and the signature key of
// its leaf. Both sides check the other's identity with Config.Admit.
//
// An epoch per view. Each member new to the group contributes a fresh key
// package (its long-lived signature key, its identity as credential), and
// the coordinator contributes the rosters of the joiners it admitted. The
// decider, the member staying whose path is oldest, checks every joiner's
// key package against its roster entry and the admission check, and
// commits: removes for the departed, adds for the joiners, its own path
// refreshed, and the view bound into the group context
// (keying.ConclaveContext: view id, members in rank order with their leaf
// indices, policy hash). Survivors process the commit on a copy of their
// state, joiners join from their welcome, everyone checks the context
// against the view and every new identity with its own admission check,
// and confirms with the new epoch's confirmation tag. Install switches
// epochs and erases the old one; Discard drops a processed epoch that
// will not be installed, so that an unfinished view change leaves every
// member in the epoch they share.
//
// Off the critical path. Only joiners and the coordinator contribute
// (membership.EarlyDecider), so the decider is asked as soon as their
// FlushOKs are in (beside the Flush, when nobody joins) and commits while
// the members flush; each member gets the decision as soon as it has
// flushed. At rest (membership.Idler) the member that would decide the
// next view draws its commit's path ahead (keying.DrawPath: the leaf key
// pair and the path secrets' node key pairs, used once, erased with the
// epoch and drawn anew after a while at rest), and the coordinator and
// the members derive the pairwise keys they will need.
//
// Control messages of a view are authenticated by the view's epoch:
// routine ones (membership.Routine) with an HMAC under a key exported from
// the epoch, those that change membership or keys (membership.Change)
// with their sender's signature, checked against its leaf in the tree, and
// the replies one member sends only to one other (membership.Pairwise:
// FlushOK, SyncOK, Confirm, InstallAck… to the coordinator) with an HMAC
// under a key only the two can derive, from a Diffie-Hellman of their leaf
// HPKE keys, cached for as long as both leaves live (pairwise.go). Such a
// MAC proves to its recipient, and to nobody else, that the sender's leaf
// made it; and it allows key-compromise impersonation: the thief of a
// member's leaf private key can forge Pairwise messages of any member to
// that member, which a signature would not allow. A suite without
// Diffie-Hellman (X-Wing) signs them.
//
//	joiner J                 coordinator C            decider D       member M
//	handshake(roster) ────▶  Admit(J)
//	                         Flush ─────────────────────────────────▶ flush
//	FlushOK{key package} ─▶  DecideReq{key package,
//	                                   rosters} ──▶   Decide: commit
//	                         ◀────────────────────── Decision{commit, welcomes}
//	Prepare{welcome} ◀─────  Prepare (once flushed) ────────────────▶ Process
//	Join ──Confirm(tag)───▶  Verify ◀────────────────────────Confirm(tag)
//	Install ◀──────────────  Install ───────────────────────────────▶ Install
package secure
