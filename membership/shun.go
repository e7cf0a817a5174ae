package membership

import (
	"net/netip"
	"slices"
	"time"
)

// A peer that proved its address can still stall the group: a joiner that
// asks to be merged in and then answers nothing keeps the group blocked
// until Timing.Flush runs out; a coordinator that claims a larger view and
// then does not absorb this one keeps it blocked for Timing.Merge. Each is
// shunned afterwards, by address: its merge requests are ignored, and this
// view does not ask to be absorbed by it, for Timing.Merge after the first
// time, twice that after the next, up to 32 times; a quiet spell as long
// as the last ban forgets the count. Installing a view with it forgives it.
// At most maxShunned addresses are remembered; when full, the one whose
// ban ended first makes room.

// maxShunned bounds the addresses remembered as having stalled a merge.
const maxShunned = 64

// maxStrikes caps the doubling of a ban: 2^(maxStrikes-1) times the first.
const maxStrikes = 6

type shunned struct {
	addr    netip.AddrPort
	until   time.Duration
	ban     time.Duration
	strikes int
}

type shunList struct{ entries []shunned }

// shun bans a, for base the first time.
func (s *shunList) shun(a netip.AddrPort, now, base time.Duration) {
	i := slices.IndexFunc(s.entries, func(e shunned) bool { return e.addr == a })
	if i < 0 {
		if len(s.entries) >= maxShunned {
			first := 0
			for j, e := range s.entries {
				if e.until < s.entries[first].until {
					first = j
				}
			}
			s.entries = slices.Delete(s.entries, first, first+1)
		}
		s.entries = append(s.entries, shunned{addr: a, until: now + base, ban: base, strikes: 1})
		return
	}
	e := &s.entries[i]
	if now-e.until >= e.ban {
		e.strikes, e.ban = 1, base
	} else if e.strikes < maxStrikes {
		e.strikes++
		e.ban = base << (e.strikes - 1)
	}
	e.until = now + e.ban
}

// shuns reports whether a is banned now.
func (s *shunList) shuns(a netip.AddrPort, now time.Duration) bool {
	i := slices.IndexFunc(s.entries, func(e shunned) bool { return e.addr == a })
	return i >= 0 && now < s.entries[i].until
}

// forgive forgets what is held against a.
func (s *shunList) forgive(a netip.AddrPort) {
	s.entries = slices.DeleteFunc(s.entries, func(e shunned) bool { return e.addr == a })
}
