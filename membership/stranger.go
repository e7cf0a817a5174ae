package membership

import (
	"net/netip"
	"slices"
	"time"
)

// A stranger is an address that has not proven it receives: not a member
// of this member's view, not a joiner or coordinator that a cookie round
// trip has proven (merge.go). Toward a stranger a member
//
//   - answers only at the datagram's source address, never at an address
//     the datagram names;
//   - sends at most amplification times the bytes it received (QUIC's
//     anti-amplification rule, RFC 9000 section 8), counted per datagram;
//   - keeps no state: what it needs later (a cookie) comes back with the
//     stranger's next datagram.
//
// Control messages that only members or proven peers may send are dropped
// at once when a stranger sends them, counted as drop.stranger.<type>.

// amplification bounds the bytes sent toward a stranger per byte received
// from it.
const amplification = 3

// maxVetoed bounds the endpoints a coordinator remembers having refused.
const maxVetoed = MaxMembers

// maxLTimeJump bounds how far ahead of every view this member has known a
// view id proposed by its own view's members or by a stranger may be (see
// MaxLTime): whoever would push a group's logical time to MaxLTime needs
// 2^30 merges with it, each one a view change. The bound does not apply to
// a coordinator at a known address (a seed, a member of a view this member
// was in, or one they named): a process that starts knows no view but its
// own and must still be able to join a group that has made billions of
// views, and two partitions of one group can always merge again.
const maxLTimeJump = 1 << 32

// plausibleLTime reports whether a view id's logical time proposed by
// from is one this member may adopt.
func (m *Member) plausibleLTime(from Endpoint, t uint64, known bool) bool {
	return known && m.known.has(from.Addr) || t <= m.maxLTime+maxLTimeJump
}

// inbound is the budget for answers to the datagram being handled, when it
// comes from a stranger.
type inbound struct {
	from   netip.AddrPort
	budget int
	active bool
}

// allow reports whether n more bytes may go to addr now, and spends them.
func (in *inbound) allow(addr netip.AddrPort, n int) bool {
	if !in.active || addr != in.from {
		return true
	}
	if n > in.budget {
		return false
	}
	in.budget -= n
	return true
}

// asked is the coordinator this member last asked to absorb its view: a
// lone member consents to a Flush from it (its answer may come after this
// member gave up waiting), and from no one else it has not asked.
type asked struct {
	coord Endpoint
	at    time.Duration
}

func (m *Member) askedRecently(e Endpoint) bool {
	return !e.IsZero() && m.asked.coord == e && m.now-m.asked.at < m.cfg.Timing.Stuck
}

// expects reports whether msg, from outside the view, is one this member
// may act on: Probes, ProbeReplies and MergeReqs carry their own proof
// (cookies); the other types come only from peers of a view change under
// way, whose addresses were proven when it started.
func (m *Member) expects(msg *ctlMsg) bool {
	switch msg.Type {
	case mProbe, mProbeReply, mMergeReq:
		return true
	case mFlush, mInstall, mDismiss:
		p := m.part
		return p != nil && (msg.From == p.coord || msg.From == p.merge.Coord) || m.askedRecently(msg.From)
	case mChallenge:
		c := m.coord
		return c != nil && c.merge.Coord == msg.From || m.askedRecently(msg.From)
	case mHandshake:
		return slices.ContainsFunc(m.admissions, func(a *admission) bool { return a.peer == msg.From })
	case mRefused:
		return msg.pair // opened under an admission's sealing (onRefused)
	case mPrepare, mDecideReq:
		p := m.part
		return p != nil && msg.From == p.coord
	case mFlushOK, mWait, mConfirm, mRefuse, mDecision:
		return m.coord != nil && slices.Contains(m.coord.joiners, msg.From)
	case mInstallAck:
		return m.announce != nil && m.announce.pending[msg.From]
	}
	return false
}

// peerAddr reports whether a is the address of a member or of a proven
// peer of a view change under way.
func (m *Member) peerAddr(a netip.AddrPort) bool {
	if _, ok := m.addrs[a]; ok {
		return true
	}
	if c := m.coord; c != nil {
		if c.merge.Coord.Addr == a || slices.ContainsFunc(c.joiners, func(e Endpoint) bool { return e.Addr == a }) {
			return true
		}
	}
	if p := m.part; p != nil && (p.coord.Addr == a || p.merge.Coord.Addr == a) {
		return true
	}
	if slices.ContainsFunc(m.admissions, func(ad *admission) bool { return ad.peer.Addr == a }) {
		return true
	}
	if an := m.announce; an != nil {
		for e := range an.pending {
			if e.Addr == a {
				return true
			}
		}
	}
	return false
}
