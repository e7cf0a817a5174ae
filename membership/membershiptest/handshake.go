package membershiptest

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"io"

	"github.com/conclave-go/conclave/membership"
)

// The handshake has three messages, after a prologue that binds the
// coordinator's nonce and both endpoints:
//
//	joiner → coordinator   nonce_j (16) ‖ name_j length (1) ‖ name_j ‖ padding
//	coordinator → joiner   nonce_c (16) ‖ name_c length (1) ‖ name_c ‖ HMAC(psk, transcript)
//	joiner → coordinator   HMAC(psk, transcript)
//
// Each message is appended to the transcript (an HMAC chain under the
// pre-shared key), so a message of another attempt, or a changed one,
// fails the next MAC. The secret is an HMAC of the whole transcript.
type handshake struct {
	p          *Participant
	initiator  bool
	step       int
	transcript []byte
	peer       membership.Identity
	done       bool
}

var errHandshake = errors.New("membershiptest: handshake message refused")

func (h *handshake) absorb(msg []byte) { h.transcript = h.p.mac("transcript", h.transcript, msg) }

func (h *handshake) hello() ([]byte, error) {
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(h.p.Rand, nonce); err != nil {
		return nil, err
	}
	if len(h.p.Name) > 255 {
		return nil, errors.New("membershiptest: name longer than 255 bytes")
	}
	return append(append(nonce, byte(len(h.p.Name))), h.p.Name...), nil
}

// readHello parses a first or second message's nonce and name, returning
// the rest.
func (h *handshake) readHello(msg []byte) ([]byte, bool) {
	if len(msg) < 17 || len(msg) < 17+int(msg[16]) {
		return nil, false
	}
	n := int(msg[16])
	h.peer = membership.Identity{Provider: "psk", Name: string(msg[17 : 17+n])}
	return msg[17+n:], true
}

func (h *handshake) Create() ([]byte, bool, error) {
	switch {
	case h.initiator && h.step == 0:
		m, err := h.hello()
		if err != nil {
			return nil, false, err
		}
		m = append(m, make([]byte, h.p.HandshakePad)...)
		h.absorb(m)
		h.step = 1
		return m, false, nil
	case !h.initiator && h.step == 1:
		m, err := h.hello()
		if err != nil {
			return nil, false, err
		}
		h.absorb(m)
		m = append(m, h.transcript...)
		h.step = 2
		return m, false, nil
	case h.initiator && h.step == 2:
		m := h.p.mac("finish", h.transcript)
		h.absorb(m)
		h.step, h.done = 3, true
		return m, true, nil
	}
	return nil, false, errors.New("membershiptest: handshake message out of turn")
}

func (h *handshake) Consume(msg []byte) (bool, error) {
	switch {
	case !h.initiator && h.step == 0:
		if _, ok := h.readHello(msg); !ok {
			return false, errHandshake
		}
		h.absorb(msg)
		h.step = 1
		return false, nil
	case h.initiator && h.step == 1:
		if len(msg) < sha256.Size {
			return false, errHandshake
		}
		body, tag := msg[:len(msg)-sha256.Size], msg[len(msg)-sha256.Size:]
		save := h.peer
		rest, ok := h.readHello(body)
		if !ok || len(rest) != 0 {
			h.peer = save
			return false, errHandshake
		}
		t := h.p.mac("transcript", h.transcript, body)
		if !hmac.Equal(t, tag) {
			h.peer = save
			return false, errHandshake
		}
		h.transcript = t
		h.step = 2
		return false, nil
	case !h.initiator && h.step == 2:
		if !hmac.Equal(msg, h.p.mac("finish", h.transcript)) {
			return false, errHandshake
		}
		h.absorb(msg)
		h.step, h.done = 3, true
		return true, nil
	}
	return false, errHandshake
}

func (h *handshake) Result() (membership.Identity, []byte) {
	if !h.done {
		return membership.Identity{}, nil
	}
	return h.peer, h.p.mac("secret", h.transcript)
}
