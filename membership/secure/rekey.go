package secure

import "github.com/conclave-go/conclave/membership"

// RekeyDue implements membership.Rekeyer: a view is rekeyed once it is
// Config.RekeyInterval old, or once this member has delivered
// Config.RekeyMessages messages or Config.RekeyBytes bytes in it.
func (p *Participant) RekeyDue(v membership.View, s membership.ViewStats) bool {
	c := &p.cfg
	return c.RekeyInterval > 0 && s.Age >= c.RekeyInterval ||
		c.RekeyMessages > 0 && s.Messages >= c.RekeyMessages ||
		c.RekeyBytes > 0 && s.Bytes >= c.RekeyBytes
}

// Describe implements membership.Describer: the identities of v's members
// from the leaves of its epoch's tree, by rank, and the epoch number.
func (p *Participant) Describe(v membership.View) ([]membership.Identity, uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	st := p.cur
	if st == nil || st.view.ID != v.ID {
		return nil, 0, false
	}
	ids := make([]membership.Identity, len(st.leaves))
	for r := range st.leaves {
		id, err := st.identity(r)
		if err != nil {
			return nil, 0, false
		}
		ids[r] = id
	}
	return ids, st.group.Epoch().Number(), true
}
