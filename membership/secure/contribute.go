package secure

import (
	"math"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// Contributions to a view change: a joiner's key package, the rosters
// of the joiners at the round's coordinator.

// signingKey returns a copy of this member's signature key, for a group
// state that will erase it when destroyed.
func (p *Participant) signingKey() (*crypto.SigningKey, error) {
	return p.sig.Clone(), nil
}

// newKeyPackage makes a key package of this member: fresh leaf and init
// keys, its signature key and its identity.
func (p *Participant) newKeyPackage() (*keying.KeyPackage, *keying.KeyPackageSecrets, error) {
	id, err := identityBytes(p.id.Provider, p.id.Name)
	if err != nil {
		return nil, nil, err
	}
	sig, err := p.signingKey()
	if err != nil {
		return nil, nil, err
	}
	kp, kps, err := keying.NewKeyPackage(p.suite, id, sig, keying.Lifetime{NotAfter: math.MaxUint64}, p.cfg.Rand)
	if err != nil {
		sig.Destroy()
		return nil, nil, err
	}
	return kp, kps, nil
}

// alone reports whether next is a view of this member alone.
func (p *Participant) alone(next membership.View) bool {
	return len(next.Members) == 1 && next.Members[0] == p.self
}

// survivor reports whether this member takes part in the round of next
// from the epoch of the view it has installed: the round's coordinator is
// a member of that view, whose epoch this member holds. Anyone else
// (alone, or in a view being absorbed) enters as a joiner.
func (p *Participant) survivor(next membership.View) bool {
	return p.cur != nil && p.cur.view.ID == p.view.ID && p.view.Has(next.ID.Coord) && p.view.Has(p.self)
}

// Contribute implements membership.Participant: a joiner's key package,
// the rosters of the joiners at the round's coordinator, nothing from
// anyone else.
func (p *Participant) Contribute(next membership.View) []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.alone(next):
		return nil
	case !p.survivor(next):
		kp, kps, err := p.newKeyPackage()
		var b []byte
		if err == nil {
			b, err = kp.Bytes()
		}
		if err != nil {
			p.cfg.Logger.Warn("no key package to join with", "self", p.self, "view", next.ID, "err", err)
			return nil
		}
		if len(p.joining) >= keepJoinKeys {
			p.joining[0].destroy()
			p.joining = p.joining[1:]
		}
		p.joining = append(p.joining, &joinKey{kp: kp, kps: kps})
		return b
	case next.ID.Coord == p.self:
		var entries []rosterEntry
		for _, e := range next.Members {
			if p.view.Has(e) {
				continue
			}
			eb, err := endpointBytes(e)
			if err != nil {
				continue
			}
			if en, ok := p.rosters.entry(eb); ok {
				entries = append(entries, en)
			}
		}
		if len(entries) == 0 {
			return nil
		}
		b, err := appendRoster(nil, entries)
		if err != nil || len(b) > membership.MaxContribution {
			p.cfg.Logger.Warn("the joiners' rosters do not fit a contribution", "self", p.self, "view", next.ID, "joiners", len(entries))
			return nil
		}
		return b
	}
	return nil
}

// SurvivorsContributeNothing implements membership.EarlyDecider: a commit
// needs the joiners' key packages and the coordinator's rosters of them
// (Contribute), nothing from anyone else, so that the decider is asked
// beside the flush.
func (p *Participant) SurvivorsContributeNothing() bool { return true }
