package membership

import "fmt"

// roleError reports how a member's role disagrees with the state it works
// on, if it does. The test harness checks it after every input.
func (m *Member) roleError() error {
	ok := false
	switch m.role {
	case roleMember:
		ok = m.part == nil && m.coord == nil
	case roleParticipant:
		ok = m.part != nil && !m.part.joiner && m.coord == nil
	case roleJoiner:
		ok = m.part != nil && m.part.joiner && m.coord == nil
	case roleCoordinator:
		ok = m.coord != nil
	case roleLeft:
		ok = m.part == nil && m.coord == nil && m.announce == nil
	}
	if !ok {
		return fmt.Errorf("role %v with participation %v, coordination %v", m.role, m.part != nil, m.coord != nil)
	}
	return nil
}
