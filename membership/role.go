package membership

// role is what a member is doing, as raft's state: each role has its own
// tick and step function, and a member changes role only through the
// become functions, which set the state the role works on (a
// participation, a coordination) and nothing else does.
//
//	                Flush of its view          Install, or alone
//	┌──────────┐ ────────────────────▶ ┌─────────────┐ ─────────────┐
//	│  member  │                       │ participant │              │
//	│          │ ◀──────────────────── └─────────────┘              │
//	└──────────┘   installs the next view      │ its coordinator    │
//	  │   ▲  ▲                                 │ suspected: takes   │
//	  │   │  │ Install, or alone               ▼ over               │
//	  │   │  │    ┌──────────┐   startRound ┌─────────────┐         │
//	  │   │  └────│  joiner  │              │ coordinator │─────────┘
//	  │   │       └──────────┘              └─────────────┘  finishRound
//	  │   │          ▲ Flush of another view    ▲ │ (installs)
//	  │   │          │ (after admission)        │ │
//	  │   └──────────┼──────────────────────────┼─┘
//	  └──────────────┴───────── startRound ─────┘
//	                                          (any role) Leave done, or
//	                                          view without it: left
type role uint8

const (
	// roleMember: in its view, no view change under way.
	roleMember role = iota
	// roleParticipant: taking part in a view change of its view, run by
	// another member (a participation).
	roleParticipant
	// roleJoiner: consented to join another view (a participation).
	roleJoiner
	// roleCoordinator: running a view change (a coordination), and
	// taking part in it through messages to itself.
	roleCoordinator
	// roleLeft: has left the group; it does nothing more.
	roleLeft
)

func (r role) String() string {
	return [...]string{"member", "participant", "joiner", "coordinator", "left"}[r]
}

// becomeCoordinator starts running the view change c.
func (m *Member) becomeCoordinator(c *coordination) {
	m.coord = c
	m.role = roleCoordinator
}

// stopCoordinating ends the view change this member ran, without
// installing: it goes back to taking part in another's, or to its view.
func (m *Member) stopCoordinating() {
	m.coord = nil
	if m.role == roleCoordinator {
		m.role = m.partRole()
	}
}

// becomeParticipant takes part in the view change p (as joiner when
// p.joiner), ending any earlier part.
func (m *Member) becomeParticipant(p *participation) {
	m.dropPart(p.round)
	m.part = p
	if m.role != roleCoordinator {
		m.role = m.partRole()
	}
}

// becomeMember settles in an installed view.
func (m *Member) becomeMember() {
	m.coord = nil
	m.role = roleMember
}

// becomeLeft ends this member's part in the group.
func (m *Member) becomeLeft() {
	m.dropPart(ViewID{})
	m.coord, m.announce = nil, nil
	m.role = roleLeft
}

// dropPart ends this member's part in a view change, unless it is the
// one that installs id: a decision it processed for that change is
// discarded.
func (m *Member) dropPart(id ViewID) {
	p := m.part
	m.part, m.sealNext = nil, nil
	if m.role == roleParticipant || m.role == roleJoiner {
		m.role = roleMember
	}
	if p != nil && p.prepared && p.round != id && m.cfg.Participant != nil {
		m.cfg.Participant.Discard(p.proposal.Clone())
		m.count("decisions_discarded")
	}
}

func (m *Member) partRole() role {
	switch {
	case m.part == nil:
		return roleMember
	case m.part.joiner:
		return roleJoiner
	}
	return roleParticipant
}

// tickRole runs the timers of this member's role.
func (m *Member) tickRole() {
	switch m.role {
	case roleMember:
		m.tickMember()
	case roleParticipant, roleJoiner:
		m.tickParticipant()
		m.tickOrphaned()
	case roleCoordinator:
		m.tickParticipant()
		if m.role == roleCoordinator {
			m.tickCoordinator()
		}
	}
}

// tickMember: a member in its view starts the view changes its view needs
// when it is the coordinator, asks for rekeys, and probes for other views.
func (m *Member) tickMember() {
	m.tickOrphaned()
	if m.role != roleMember {
		return
	}
	m.tickRekey()
	m.tickProbe()
}

// tickOrphaned starts a view change when this member is the coordinator
// and one is needed: in its view, or when the coordinator of the change it
// takes part in is suspected.
func (m *Member) tickOrphaned() {
	m.expireMerges()
	if m.idleOrOrphaned() && m.isCoordinator() && m.roundNeeded() {
		m.startRound(Summary{})
	}
}

// step handles a control message: the types any member acts on, then
// those of its role.
func (m *Member) step(msg *ctlMsg) {
	switch msg.Type {
	case mProbe, mProbeReply:
		m.onProbe(msg)
	case mMergeReq:
		m.onMergeReq(msg)
	case mFlush:
		m.onFlush(msg)
	case mInstall:
		m.onInstall(msg)
	case mInstallAck:
		m.onInstallAck(msg)
	case mSuspect:
		m.onSuspect(msg)
	case mLeave:
		m.onLeave(msg)
	case mDismiss:
		m.onDismiss(msg)
	case mRekey:
		m.onRekey(msg)
	case mChallenge:
		m.onChallenge(msg)
	case mHandshake:
		m.onHandshake(msg)
	case mRefused:
		m.onRefused(msg)
	default:
		switch m.role {
		case roleCoordinator:
			m.stepCoordinator(msg)
		case roleParticipant, roleJoiner:
			m.stepParticipant(msg)
		default:
			m.count("ignored." + msg.Type.String())
		}
	}
}

// stepCoordinator handles the replies to the view change this member runs,
// and, as a participant in it, the coordinator's own messages to itself.
func (m *Member) stepCoordinator(msg *ctlMsg) {
	switch msg.Type {
	case mFlushOK:
		m.onFlushOK(msg)
	case mSyncOK:
		m.onSyncOK(msg)
	case mWait:
		m.onWait(msg)
	case mDecision:
		m.onDecision(msg)
	case mConfirm:
		m.onConfirm(msg)
	case mRefuse:
		m.onRefuse(msg)
	default:
		m.stepParticipant(msg)
	}
}

// stepParticipant handles a coordinator's messages to a member taking part
// in its view change.
func (m *Member) stepParticipant(msg *ctlMsg) {
	switch msg.Type {
	case mSync:
		m.onSync(msg)
	case mPrepare:
		m.onPrepare(msg)
	case mDecideReq:
		m.onDecideReq(msg)
	default:
		m.count("ignored." + msg.Type.String())
	}
}
