package secure

import (
	"bytes"
	"errors"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/internal/wire"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// A roster is what a joiner (or the coordinator of a view being absorbed)
// tells the coordinator it asks, inside the admission handshake, about the
// members it brings: for each, the endpoint, the identity and the
// signature key of its leaf. The coordinator passes the entries of the
// round's joiners to the decider in its contribution, and the decider
// takes a joiner's key package only if its signature key and identity are
// the ones its roster entry names: the entry was authenticated by the
// handshake, the key package is signed by its owner.
//
// An entry with a Noise identity and an Ed25519 key takes about 96 bytes:
// a roster fits a Noise handshake payload (64 KiB) up to about 680
// members, and the coordinator's contribution (membership.MaxContribution,
// 16 KiB) carries the entries of about 170 joiners of one round.
//
//	roster  count uvarint (at most membership.MaxMembers), then per entry:
//	        endpoint  uvarint length (at most maxEndpointLen), bytes
//	        identity  uvarint length (at most keying.MaxIdentityLen), bytes (identityBytes)
//	        sigkey    uvarint length (at most keying.MaxPublicKeyLen), bytes
type rosterEntry struct {
	endpoint []byte // endpointBytes
	identity auth.Identity
	sigKey   []byte
}

var errRoster = errors.New("secure: malformed roster")

func appendRoster(b []byte, entries []rosterEntry) ([]byte, error) {
	b = wire.AppendUvarint(b, uint64(len(entries)))
	for _, e := range entries {
		id, err := identityBytes(e.identity.Provider, e.identity.Name)
		if err != nil {
			return nil, err
		}
		b = wire.AppendUvarint(b, uint64(len(e.endpoint)))
		b = append(b, e.endpoint...)
		b = wire.AppendUvarint(b, uint64(len(id)))
		b = append(b, id...)
		b = wire.AppendUvarint(b, uint64(len(e.sigKey)))
		b = append(b, e.sigKey...)
	}
	return b, nil
}

// parseRoster decodes a whole roster strictly. The entries own their
// bytes.
func parseRoster(b []byte) ([]rosterEntry, error) {
	r := wire.NewReader(b)
	n := r.UvarintMax(membership.MaxMembers)
	if r.Err() != nil {
		return nil, errRoster
	}
	// Each entry takes at least 3 bytes: the count cannot ask for more
	// entries than the bytes hold.
	if n > uint64(r.Len()/3) {
		return nil, errRoster
	}
	entries := make([]rosterEntry, 0, n)
	for range n {
		ep := r.Bytes(int(r.UvarintMax(maxEndpointLen)))
		idb := r.Bytes(int(r.UvarintMax(keying.MaxIdentityLen)))
		sk := r.Bytes(int(r.UvarintMax(keying.MaxPublicKeyLen)))
		if r.Err() != nil {
			return nil, errRoster
		}
		id, err := parseIdentity(idb)
		if err != nil || len(ep) == 0 || len(sk) == 0 {
			return nil, errRoster
		}
		for _, o := range entries {
			if bytes.Equal(o.endpoint, ep) {
				return nil, errRoster
			}
		}
		entries = append(entries, rosterEntry{endpoint: bytes.Clone(ep), identity: id, sigKey: bytes.Clone(sk)})
	}
	if r.Done() != nil {
		return nil, errRoster
	}
	return entries, nil
}

// find returns the entry of the endpoint encoded as ep.
func findEntry(entries []rosterEntry, ep []byte) (rosterEntry, bool) {
	for _, e := range entries {
		if bytes.Equal(e.endpoint, ep) {
			return e, true
		}
	}
	return rosterEntry{}, false
}

// maxRosters bounds the rosters a coordinator keeps: as many as
// membership runs admissions at once.
const maxRosters = 16

// rosterInstalls is how many views a roster outlives if the joiners it
// names never arrive.
const rosterInstalls = 4

// roster is one admitted initiator's roster, as its coordinator keeps it.
type roster struct {
	from    []byte // the initiator's endpoint
	entries []rosterEntry
	left    int // views still to install before it is forgotten
}

// rosterStore keeps the rosters of the initiators a coordinator admitted,
// at most maxRosters, the newest replacing the oldest.
type rosterStore struct{ rosters []*roster }

func (s *rosterStore) add(from []byte, entries []rosterEntry) {
	for i, r := range s.rosters {
		if bytes.Equal(r.from, from) {
			s.rosters = append(s.rosters[:i], s.rosters[i+1:]...)
			break
		}
	}
	if len(s.rosters) >= maxRosters {
		s.rosters = s.rosters[1:]
	}
	s.rosters = append(s.rosters, &roster{from: from, entries: entries, left: rosterInstalls})
}

// entry returns the newest roster entry for the endpoint encoded as ep.
func (s *rosterStore) entry(ep []byte) (rosterEntry, bool) {
	for i := len(s.rosters) - 1; i >= 0; i-- {
		if e, ok := findEntry(s.rosters[i].entries, ep); ok {
			return e, true
		}
	}
	return rosterEntry{}, false
}

// installed forgets the rosters whose initiator is a member of the view
// just installed (their joiners are in, or were left out), and those that
// have waited rosterInstalls views.
func (s *rosterStore) installed(members [][]byte) {
	kept := s.rosters[:0]
	for _, r := range s.rosters {
		r.left--
		in := false
		for _, m := range members {
			in = in || bytes.Equal(m, r.from)
		}
		if !in && r.left > 0 {
			kept = append(kept, r)
		}
	}
	clear(s.rosters[len(kept):])
	s.rosters = kept
}
