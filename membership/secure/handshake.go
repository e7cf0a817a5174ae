package secure

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/membership"
)

// handshake adapts an auth.Handshake to membership's: it carries the
// initiator's roster, and outlives a refused message.
//
// membership drops a forged handshake message and goes on with the
// attempt, whereas an auth handshake dies on any failure. auth handshakes
// are deterministic in their credentials, prologue, the bytes they read
// from their random source and the calls made, so the adapter records the
// random bytes read and the calls that succeeded, and after a failed
// Consume rebuilds the handshake by replaying them: the same messages come
// out, and the attempt goes on as if the forged message had never come.
//
// The initiator sends its roster in every message but its first (Noise XX:
// the third, encrypted and sent once both sides are authenticated); the
// responder keeps the last one, and when done checks that the roster's
// entry for the initiator names the identity the handshake authenticated.
type handshake struct {
	p         *Participant
	initiator bool
	peer      membership.Endpoint
	peerBytes []byte
	prologue  []byte
	rand      *replayReader
	hs        auth.Handshake
	calls     []call
	roster    []byte        // initiator: what it sends
	entries   []rosterEntry // responder: what it received
	result    auth.Result
	done      bool
}

// call is one successful call on the auth handshake.
type call struct {
	create bool
	data   []byte // Create's payload or Consume's message
}

// maxReplay bounds the random bytes a handshake may read: the replay keeps
// them all.
const maxReplay = 64 << 10

// replayReader reads from src, recording what it read, and after rewind
// hands the recorded bytes out again before reading more.
type replayReader struct {
	src  io.Reader
	log  []byte
	read int
}

func (r *replayReader) Read(b []byte) (int, error) {
	if r.read < len(r.log) {
		n := copy(b, r.log[r.read:])
		r.read += n
		return n, nil
	}
	if len(r.log)+len(b) > maxReplay {
		return 0, errors.New("secure: handshake read too much randomness")
	}
	n, err := r.src.Read(b)
	r.log = append(r.log, b[:n]...)
	r.read += n
	return n, err
}

func (r *replayReader) rewind() { r.read = 0 }

// Handshake implements membership.Participant: one side of an admission
// handshake with the configured credential, bound to nonce and both
// endpoints.
func (p *Participant) Handshake(initiator bool, self, peer membership.Endpoint, nonce []byte) (membership.Handshake, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	sb, err := endpointBytes(self)
	if err != nil {
		return nil, err
	}
	pb, err := endpointBytes(peer)
	if err != nil {
		return nil, err
	}
	h := &handshake{p: p, initiator: initiator, peer: peer, peerBytes: pb, rand: &replayReader{src: p.cfg.Rand}}
	if initiator {
		h.prologue = auth.Prologue(nonce, sb, pb)
		if h.roster, err = appendRoster(nil, p.ownRoster()); err != nil {
			return nil, err
		}
	} else {
		h.prologue = auth.Prologue(nonce, pb, sb)
	}
	if err := h.start(); err != nil {
		return nil, err
	}
	return h, nil
}

// start makes the auth handshake afresh from the recorded randomness.
func (h *handshake) start() error {
	h.rand.rewind()
	var err error
	if h.initiator {
		h.hs, err = h.p.cfg.Credential.Initiate(h.prologue, nil, h.rand)
	} else {
		h.hs, err = h.p.cfg.Credential.Respond(h.prologue, h.rand)
	}
	if err != nil {
		return fmt.Errorf("secure: handshake: %w", err)
	}
	return nil
}

// rebuild replays the successful calls on a fresh auth handshake, after a
// failure killed the last one.
func (h *handshake) rebuild() error {
	if err := h.start(); err != nil {
		return err
	}
	for _, c := range h.calls {
		var err error
		if c.create {
			_, _, err = h.hs.Create(c.data)
		} else {
			_, _, err = h.hs.Consume(c.data)
		}
		if err != nil {
			return fmt.Errorf("secure: handshake replay: %w", err)
		}
	}
	return nil
}

// Create implements membership.Handshake.
func (h *handshake) Create() ([]byte, bool, error) {
	var payload []byte
	if h.initiator && len(h.calls) > 0 {
		payload = h.roster
	}
	msg, done, err := h.hs.Create(payload)
	if err != nil {
		return nil, false, err
	}
	h.calls = append(h.calls, call{create: true, data: payload})
	if done {
		return msg, true, h.finish()
	}
	return msg, false, nil
}

// Consume implements membership.Handshake. A refused message leaves the
// handshake as it was before it.
func (h *handshake) Consume(msg []byte) (bool, error) {
	payload, done, err := h.hs.Consume(msg)
	if err == nil && len(payload) > 0 {
		if h.initiator {
			err = errors.New("secure: the responder sent a payload")
		} else {
			h.entries, err = parseRoster(payload)
		}
	}
	if err == nil && done {
		h.calls = append(h.calls, call{data: bytes.Clone(msg)})
		if err = h.finish(); err == nil {
			return true, nil
		}
		h.calls = h.calls[:len(h.calls)-1]
		h.done = false
	}
	if err != nil {
		if rerr := h.rebuild(); rerr != nil {
			return false, rerr
		}
		return false, err
	}
	h.calls = append(h.calls, call{data: bytes.Clone(msg)})
	return false, nil
}

// finish takes the result; the responder checks and keeps the roster.
func (h *handshake) finish() error {
	res, err := h.hs.Result()
	if err != nil {
		return err
	}
	if !h.initiator {
		e, ok := findEntry(h.entries, h.peerBytes)
		if !ok || e.identity.Provider != res.Peer.Provider || e.identity.Name != res.Peer.Name {
			clear(res.Secret)
			return errors.New("secure: the joiner's roster does not name it with its authenticated identity")
		}
		h.p.mu.Lock()
		h.p.rosters.add(h.peerBytes, h.entries)
		h.p.mu.Unlock()
	}
	h.result, h.done = res, true
	return nil
}

// Result implements membership.Handshake.
func (h *handshake) Result() (membership.Identity, []byte) {
	if !h.done {
		return membership.Identity{}, nil
	}
	return memberIdentity(h.result.Peer), h.result.Secret
}

// ownRoster lists the members of this member's installed view with the
// identity and signature key of their leaves; this member alone if it has
// no epoch.
func (p *Participant) ownRoster() []rosterEntry {
	self := rosterEntry{endpoint: p.selfBytes, identity: p.id, sigKey: p.sig.PublicKey()}
	if p.cur == nil || p.cur.view.ID != p.view.ID {
		return []rosterEntry{self}
	}
	entries := make([]rosterEntry, 0, len(p.cur.view.Members))
	for r, e := range p.cur.view.Members {
		if e == p.self {
			entries = append(entries, self)
			continue
		}
		l := p.cur.group.Tree().Leaf(p.cur.leaves[r])
		id, err := credentialIdentity(l)
		eb, eerr := endpointBytes(e)
		if err != nil || eerr != nil {
			continue
		}
		entries = append(entries, rosterEntry{endpoint: eb, identity: id, sigKey: l.SignatureKey})
	}
	return entries
}
