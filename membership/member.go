package membership

import (
	"cmp"
	crand "crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/conclave-go/conclave/internal/queue"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
)

// Timing sets the membership protocol's timers. Zero fields take defaults.
type Timing struct {
	// Suspect: a member not heard from for this long is suspected.
	Suspect time.Duration
	// Retry: unanswered control messages are sent again this often.
	Retry time.Duration
	// Flush: a coordinator waits this long for the replies of one phase
	// of a view change before going on without the silent members.
	Flush time.Duration
	// Probe: a coordinator looks for other views (partitions, joiners)
	// this often.
	Probe time.Duration
	// Merge: a flushed view waits this long to be absorbed by another.
	Merge time.Duration
	// Stuck: a member caught in a view change that makes no progress for
	// this long goes on alone, in a view of its own.
	Stuck time.Duration
	// Forget: an address learnt for probing (not a seed) that has not
	// been heard from for this long is forgotten.
	Forget time.Duration
}

// DefaultTiming suits a local network.
var DefaultTiming = Timing{
	Suspect: 500 * time.Millisecond,
	Retry:   20 * time.Millisecond,
	Flush:   time.Second,
	Probe:   200 * time.Millisecond,
	Merge:   2 * time.Second,
	Stuck:   5 * time.Second,
	Forget:  5 * time.Minute,
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming
	for _, f := range []struct{ v, d *time.Duration }{
		{&t.Suspect, &d.Suspect}, {&t.Retry, &d.Retry}, {&t.Flush, &d.Flush},
		{&t.Probe, &d.Probe}, {&t.Merge, &d.Merge}, {&t.Stuck, &d.Stuck},
		{&t.Forget, &d.Forget},
	} {
		if *f.v <= 0 {
			*f.v = *f.d
		}
	}
	return t
}

// Config describes one member.
type Config struct {
	Self  Endpoint
	Group uint64
	// Seeds are addresses of possible members to contact when starting.
	Seeds []netip.AddrPort
	// Layers and Options compose each view's stack; default
	// compose.Reliable. The stack must contain mnak.
	Layers      []string
	Options     compose.Options
	MaxDatagram int
	MaxMessage  int
	// Seed seeds the member's randomness (timer jitter, stack seeds).
	Seed        uint64
	Timing      Timing
	Participant Participant
	// Rand is the source of the secrets that cookies are made with
	// (cookie.go); default crypto/rand. Only the values of cookies
	// depend on it, never what the protocol does.
	Rand io.Reader
	// Trace, if set, is told of protocol steps (see Trace).
	Trace func(Trace)
	// Logger receives the protocol's decisions: views installed (Info);
	// suspicions, view changes started and why, timeouts, merges
	// (Debug). Default: discard.
	Logger *slog.Logger
}

// Member is one group member: the membership protocol around the current
// view's stack. Like a layer it is a pure state machine (inputs Receive,
// Cast, Send, Leave, Tick, Flush; outputs Ready, then Advance) and is not
// safe for concurrent use.
//
// A member starts alone, in a view of its own, and finds the group through
// its seeds: joining is merging a one-member view into the group's.
type Member struct {
	cfg  Config
	self Endpoint
	now  time.Duration
	rng  *rand.Rand

	view  View
	rank  int
	addrs map[netip.AddrPort]int // member address → rank in view
	stack *layers.Stack
	flush layers.Flush // the stack's side of a view change
	// sealNow and sealPrev authenticate the control messages of the
	// current view and of the one before (auth.go); nil without a
	// participant. sealNext, those of the view of the round this member
	// takes part in, once it has processed its decision: the end of the
	// round (Confirm, Refuse, Install, InstallAck, Dismiss) is sealed
	// under it where the two ends share no current view.
	sealNow, sealPrev, sealNext *sealing
	auth                        Authenticator

	role     role // what this member is doing (role.go)
	fd       detector
	part     *participation // the view change this member takes part in
	coord    *coordination  // the view change this member runs
	announce *announcement  // telling the members of a new view to install it

	blocked   bool
	deaf      bool                 // the driver is not reading the network for now
	queue     queue.Queue[request] // accepted, not yet handed to the stack
	unsent    request              // handed to the stack, which has not sent it all yet
	hasUnsent bool
	leaving   bool
	leftAt    time.Duration
	maxLTime  uint64

	known     knownList // addresses to probe for other views
	probeNext int
	nextProbe time.Duration
	// namedProbeAt is when a coordinator named by a seed or member was
	// last probed at once.
	namedProbeAt time.Duration
	merges       []pendingMerge
	rekey        bool // a rekey round is wanted (rekey.go)
	rekeyAt      time.Duration
	identities   map[Endpoint]Identity // of peers, as their handshakes established
	admissions   []*admission          // handshakes under way (admission.go)
	pairs        map[Endpoint]*pair    // sealings with peers admitted by handshake
	refusal      Refusal               // the last refusal a coordinator sent this member (admission.go)
	vetoedIDs    map[Identity]bool
	vetoIDOrder  []Identity
	reassembly   reassembler
	vetoed       map[Endpoint]bool
	vetoOrder    []Endpoint // vetoed endpoints, oldest first, at most maxVetoed
	cookies      cookieJar
	asked        asked // the coordinator last asked to absorb this member's view
	// authenticating is the view this coordinator is to be absorbed by,
	// whose coordinator it authenticates before it blocks (admission.go).
	authenticating authenticating
	shunned        shunList // peers that stalled a merge (shun.go)
	inbound        inbound  // the datagram being handled, when from a stranger

	// stats is what this member saw of its current view (ViewStats): the
	// install time and the messages and bytes delivered since.
	stats struct {
		at              time.Duration
		messages, bytes uint64
	}

	ready    Ready
	taken    struct{ packets, deliveries int } // of the stack's Ready, already collected
	local    queue.Queue[ctlMsg]               // control messages to this member itself, not yet handled
	pending  bool                              // local starts with a Prepare to itself, left for Continue
	counters map[string]uint64
}

type request struct {
	cast bool
	to   Endpoint
	data []byte
}

// New returns a member alone in a view of its own.
func New(cfg Config) (*Member, error) {
	if !cfg.Self.Addr.IsValid() {
		return nil, errors.New("membership: config: self has no address")
	}
	if cfg.Layers == nil {
		cfg.Layers = compose.Reliable
	}
	if cfg.Rand == nil {
		cfg.Rand = crand.Reader
	}
	for _, need := range []string{"mnak", "pt2pt", "stable"} {
		if !slices.Contains(cfg.Layers, need) {
			return nil, fmt.Errorf("membership: config: the stack needs the %s layer", need)
		}
	}
	cfg.Timing = cfg.Timing.withDefaults()
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Options.Stable.Idle == 0 {
		// Stability gossip is the heartbeat the failure detector hears
		// when the group is idle: ten per suspicion timeout.
		cfg.Options.Stable.Idle = cfg.Timing.Suspect / 10
	}
	m := &Member{
		cfg:        cfg,
		self:       cfg.Self,
		rng:        rand.New(rand.NewPCG(cfg.Seed, 0x6d656d62)),
		vetoed:     make(map[Endpoint]bool),
		vetoedIDs:  make(map[Identity]bool),
		identities: make(map[Endpoint]Identity),
		counters:   make(map[string]uint64),
		cookies:    newCookieJar(cfg.Rand, cfg.Group),
	}
	for _, a := range cfg.Seeds {
		m.learn(a, knownSeed)
	}
	if cfg.Participant != nil {
		cfg.Participant.Start(m.self)
	}
	alone := View{ID: ViewID{LTime: 1, Coord: m.self}, Members: []Endpoint{m.self}}
	m.trace(Trace{Consent: true, View: alone})
	if err := m.installAlone(alone); err != nil {
		return nil, err
	}
	m.nextProbe = 0 // look for the group at the first tick
	return m, nil
}

// View returns the current view.
func (m *Member) View() View { return m.view.Clone() }

// ViewID is the id of the current view, without View's copy of it.
func (m *Member) ViewID() ViewID { return m.view.ID }

// Self is this member's endpoint.
func (m *Member) Self() Endpoint { return m.self }

// Left reports whether this member has left the group.
func (m *Member) Left() bool { return m.role == roleLeft }

// Blocked reports whether a view change is under way: messages sent now
// wait for the next view.
func (m *Member) Blocked() bool { return m.blocked }

// Backlog is the number of messages held back, by flow control in the
// stack or by a view change.
func (m *Member) Backlog() int { return m.stack.Backlog() + m.queue.Len() }

// Counters returns the member's own statistics and its stack's.
func (m *Member) Counters() []layers.Counter {
	cs := m.stack.Counters()
	for name, v := range m.counters {
		cs = append(cs, layers.Counter{Layer: "membership", Name: name, Value: v})
	}
	slices.SortFunc(cs, func(a, b layers.Counter) int {
		return cmp.Or(cmp.Compare(a.Layer, b.Layer), cmp.Compare(a.Name, b.Name))
	})
	return cs
}

// Stack is the current view's stack, for inspection.
func (m *Member) Stack() *layers.Stack { return m.stack }

func (m *Member) count(name string) { m.counters[name]++ }

// Cast multicasts data to the view, this member included. During a view
// change it waits for the next view. The member owns data from then on.
func (m *Member) Cast(data []byte) {
	m.submit(request{cast: true, data: data})
}

// Send sends data to member to, reliably and in order, if it is in the
// view when the message goes out.
func (m *Member) Send(to Endpoint, data []byte) {
	m.submit(request{to: to, data: data})
}

func (m *Member) submit(r request) {
	m.Continue()
	if m.role == roleLeft {
		m.count("drop.after_leave")
		return
	}
	if m.queue.Len() == 0 && m.canSend() {
		m.hand(r) // the common case: nothing waiting, straight to the stack
		m.collect()
	} else {
		m.queue.Push(r)
		m.pump()
	}
	m.settle()
}

// canSend reports whether the stack may take a message now.
func (m *Member) canSend() bool { return !m.blocked && m.stack.Backlog() == 0 }

// pump hands queued messages to the stack while it holds nothing back.
//
// Messages wait here, not in the stack's flow control, so that a view
// change never strands one: whatever the stack has not sent when its view
// ends is lost with it, while this queue goes on to the next view. The one
// message the stack has taken but not finished sending (a large message,
// its fragments waiting for the window) is remembered, and sent again whole
// in the next view if the view ends abruptly: its fragments in the old view
// can never be reassembled, since the rest of them are never sent there.
func (m *Member) pump() {
	for m.queue.Len() > 0 && m.canSend() {
		r, _ := m.queue.Pop()
		m.hand(r)
	}
	m.collect()
}

// hand gives one message to the stack, remembering it while the stack has
// not sent it all.
func (m *Member) hand(r request) {
	m.unsent, m.hasUnsent = request{}, false
	if r.cast {
		m.stack.Cast(r.data)
	} else if rank := m.view.Rank(r.to); rank >= 0 {
		m.stack.Send(rank, r.data)
	} else {
		m.count("drop.send_to_non_member")
		return
	}
	if m.stack.Backlog() > 0 {
		m.unsent, m.hasUnsent = r, true
	}
}

// Leave asks to leave the group: the member stays until a view without it
// is installed (its messages are delivered first), or until it gives up
// after Timing.Stuck.
func (m *Member) Leave() {
	m.Continue()
	if m.role == roleLeft || m.leaving {
		return
	}
	m.leaving, m.leftAt = true, m.now
	if len(m.view.Members) == 1 {
		m.leave()
		return
	}
	m.requestLeave()
	m.settle()
}

// PauseInput tells the member that its driver has stopped reading the
// network for a while, because the application is not keeping up with
// deliveries. Meanwhile the failure detector suspects nobody: silence it
// cannot hear is no evidence.
func (m *Member) PauseInput(paused bool) {
	if m.deaf && !paused {
		m.fd.hearAll(m.now)
	}
	m.deaf = paused
}

// Flush sends what the stack holds back for bundling.
func (m *Member) Flush() {
	if m.stack != nil {
		m.stack.Flush()
		m.collect()
	}
}

// Ready returns the outputs since the last Advance.
func (m *Member) Ready() Ready { return m.ready }

// Advance acknowledges the last Ready.
func (m *Member) Advance() {
	m.stack.Advance()
	m.taken.packets, m.taken.deliveries = 0, 0
	clear(m.ready.Packets)
	clear(m.ready.Events)
	m.ready.Packets = m.ready.Packets[:0]
	m.ready.Events = m.ready.Events[:0]
}

// Receive feeds a datagram from the network. The member owns data.
//
// A datagram is a sign of life of the member it comes from only once it
// has been parsed: a control message once decoded, a datagram of the stack
// once the stack has accepted it. Junk from a dead member's address must
// not keep it in the view.
func (m *Member) Receive(from netip.AddrPort, data []byte) {
	m.Continue()
	if m.role == roleLeft || len(data) == 0 {
		return
	}
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if data[0] == Magic {
		if len(data) > MaxControlDatagram {
			m.count("drop.malformed_control")
			return
		}
		msg, err := decodeCtl(data, m.cfg.Group)
		switch {
		case errors.Is(err, errOtherGroup):
			m.count("drop.other_group")
		case err != nil:
			m.count("drop.malformed_control")
		case msg.From.Addr != from:
			m.count("drop.forged_control")
		default:
			m.receiveDecoded(from, len(data), &msg)
		}
		return
	}
	r, ok := m.addrs[from]
	if !ok {
		m.count("drop.not_member")
		return
	}
	if m.waitsForInstall() && m.cfg.Participant == nil {
		// A datagram of the view this member is waiting to install means
		// its coordinator installed it, which it does only once every
		// member has reached the cut: install it too, without waiting
		// for the order. Not with a participant: nothing authenticates
		// a stack datagram's header before the view's stack exists, and
		// a forged one would install the view before every member
		// confirmed it; the member waits for the sealed Install, which
		// the coordinator repeats until acknowledged.
		if id, _, ok := m.flush.Datagram(data); ok && id == m.part.proposal.ID.Wire() && id != m.view.ID.Wire() {
			m.count("install_on_traffic")
			m.installRound()
			m.Receive(from, data)
			return
		}
	}
	if m.stackReceive(r, data) {
		m.fd.heard(r, m.now)
		if m.announce != nil {
			delete(m.announce.pending, m.view.Members[r])
		}
	} else {
		m.count("not_credited")
	}
	m.collect()
	m.tryFlushOK()
	m.trySyncOK()
	m.pump()
	m.settle()
}

// stackReceive hands a datagram from the member of rank r to the stack,
// and reports whether the stack accepted it and it names that member as
// its sender (the stack cannot tell which address a datagram came from).
func (m *Member) stackReceive(r int, data []byte) bool {
	_, sender, ok := m.flush.Datagram(data)
	own := ok && sender == r
	return m.stack.Receive(data) && own
}

// receiveDecoded handles a decoded control datagram, or a control message
// reassembled from fragments, from address from, size bytes long.
func (m *Member) receiveDecoded(from netip.AddrPort, size int, msg *ctlMsg) {
	switch msg.Type {
	case mFragment:
		m.receiveFragment(from, msg, nil)
	case mSealed:
		m.openSealed(from, size, msg)
	default:
		m.receiveCtl(from, size, msg, false)
	}
}

// receiveFragment takes a piece of a large control message, opened by s
// (nil: it was not sealed).
func (m *Member) receiveFragment(from netip.AddrPort, msg *ctlMsg, s *sealing) {
	if _, member := m.addrs[from]; !member && !m.peerAddr(from) {
		m.count("drop.stranger.Fragment")
		return
	}
	m.onFragment(from, msg, s)
	m.settle()
}

// openSealed opens a sealed control message and handles what it carries.
func (m *Member) openSealed(from netip.AddrPort, size int, msg *ctlMsg) {
	cands := []*sealing{m.sealNow, m.sealPrev, m.sealNext}
	if p := m.pairs[msg.From]; p != nil {
		cands = append(cands, p.s)
	}
	for _, s := range cands {
		if s == nil || s.wireID != msg.Sealed.view {
			continue
		}
		if ok, reason := s.open(msg.From, &msg.Sealed); !ok {
			m.count(reason)
			return
		}
		inner, err := decodeCtl(msg.Sealed.inner, m.cfg.Group)
		if err != nil || inner.From != msg.From || inner.Type == mSealed {
			m.count("drop.malformed_control")
			return
		}
		if inner.Type == mFragment {
			m.receiveFragment(from, &inner, s)
			return
		}
		m.receiveOpened(from, size, &inner, s)
		return
	}
	m.count("drop.unsealed_view")
}

// receiveOpened handles a control message that s opened.
func (m *Member) receiveOpened(from netip.AddrPort, size int, msg *ctlMsg, s *sealing) {
	if p := m.pairs[msg.From]; p != nil && s == p.s {
		msg.pair = true
		p.at = m.now
	}
	msg.next = s == m.sealNext
	m.receiveCtl(from, size, msg, true)
}

// sealingFor returns the sealing a control message to e goes out under:
// that of the current view if both are in it (but never that of the view
// an Install installs: its recipient does not have it yet), else the one
// an admission with e made, else that of the view before. A peer admitted
// anew comes before the view before: a coordinator absorbed in a merge
// may have been a member of that view, and consents only to a Flush
// sealed under the admission (admission.go).
func (m *Member) sealingFor(e Endpoint, msg *ctlMsg) *sealing {
	if msg.Type == mChallenge || msg.Type == mHandshake {
		return nil // an admission makes the secret it would be sealed with
	}
	usable := func(s *sealing) bool {
		return s != nil && s.view.Has(e) && (msg.Type != mInstall || s.view.ID != msg.Round)
	}
	if usable(m.sealNow) {
		return m.sealNow
	}
	if p := m.pairs[e]; p != nil {
		return p.s
	}
	if s := m.roundSealing(msg); s != nil && s.view.Has(e) {
		return s
	}
	if usable(m.sealPrev) {
		return m.sealPrev
	}
	return nil
}

// roundSealing returns the sealing of the view msg ends the round of, if
// msg is a message of a round's end (Confirm, Refuse, Install,
// InstallAck, Dismiss) and this member holds that view's sealing: it
// processed the round's decision (sealNext), or installed it (sealNow,
// for the Install repeated to members that have not acknowledged).
// Every member of a round that waits for Install has processed its
// decision: members that share no current view (the coordinator and the
// members of a view it absorbs) seal these under it, so that nobody who
// has not processed the decision can forge them.
func (m *Member) roundSealing(msg *ctlMsg) *sealing {
	switch msg.Type {
	case mConfirm, mRefuse, mInstall, mInstallAck, mDismiss:
	default:
		return nil
	}
	for _, s := range []*sealing{m.sealNext, m.sealNow} {
		if s != nil && s.view.ID == msg.Round {
			return s
		}
	}
	return nil
}

// receiveCtl handles a control message from address from, size bytes long;
// authentic when it was sealed and opened.
func (m *Member) receiveCtl(from netip.AddrPort, size int, msg *ctlMsg, authentic bool) {
	r, member := m.addrs[from]
	member = member && m.view.Members[r] == msg.From
	if member && !authentic && m.cfg.Participant != nil {
		// Members' control messages are sealed: this one, from a
		// member's address, is a stranger's.
		m.count("unauthenticated." + msg.Type.String())
		member = false
	}
	if !authentic && m.cfg.Participant != nil && m.view.Has(msg.From) && !m.unsealedFromMember(msg) {
		// Members of this member's view seal what they send it: one
		// that does not speaks for a stranger at its address.
		m.count("drop.unauthenticated_member." + msg.Type.String())
		return
	}
	if !member && !authentic && m.pairs[msg.From] != nil {
		switch msg.Type {
		case mProbe, mProbeReply, mMergeReq, mChallenge, mHandshake:
		default:
			// A peer admitted by handshake seals what it sends.
			m.count("unauthenticated." + msg.Type.String())
			return
		}
	}
	if !member && !m.expects(msg) {
		m.count("drop.stranger." + msg.Type.String())
		return
	}
	if member {
		if (msg.Type == mProbe || msg.Type == mProbeReply) && msg.Summary.ID != m.view.ID {
			// A member that speaks for another view has moved
			// on: that is no sign of life in this one.
			if r != m.rank && !m.fd.suspects[r] {
				m.fd.suspects[r] = true
				m.count("suspicions.moved_on")
			}
		} else {
			m.fd.heard(r, m.now)
		}
	}
	if !member && !m.peerAddr(from) {
		m.inbound = inbound{from: from, budget: amplification * size, active: true}
	}
	m.handle(msg)
	m.settle()
	m.inbound = inbound{}
}

// unsealedFromMember reports whether msg, not sealed, may come from a
// member of this member's view when there is a participant: a Probe,
// ProbeReply or MergeReq (never sealed; each carries its own proof), or a
// message of the coordinator this member's view is being absorbed by (or
// that it joins), if that coordinator is still in this member's view (it
// left the view and leads another, which absorbs this one's survivors: it
// has no sealing with this member, and the absorbed view's members other
// than its coordinator take its messages unsealed, admission.go). Anything else
// from a member, the coordinator of the view's own view changes first
// (an unsealed Flush, Prepare or Install at its address would otherwise
// pass for a peer's of the round under way), is a stranger's at its
// address.
func (m *Member) unsealedFromMember(msg *ctlMsg) bool {
	switch msg.Type {
	case mProbe, mProbeReply, mMergeReq:
		return true
	}
	p := m.part
	if p == nil {
		return false
	}
	if p.joiner {
		return msg.From == p.coord
	}
	return p.merge.ID != (ViewID{}) && msg.From == p.merge.Coord
}

// Tick advances time.
func (m *Member) Tick(now time.Duration) {
	m.Continue()
	if now-m.now > m.cfg.Timing.Suspect/2 {
		// This member itself was paused (descheduled, stopped, starved):
		// the silence it is about to notice is its own.
		m.fd.hearAll(now)
		m.count("own_pauses")
		m.debug("this member was paused", "for", now-m.now)
	}
	if now > m.now {
		m.now = now
	}
	if m.role == roleLeft {
		m.tickAnnounce()
		return
	}
	m.stack.Tick(m.now)
	m.collect()
	m.tickDetector()
	m.tickRole()
	m.tickAdmissions()
	m.tickAnnounce()
	m.known.forget(m.now, m.cfg.Timing.Forget, func(a netip.AddrPort) bool {
		_, member := m.addrs[a]
		return member
	})
	if m.leaving && m.now-m.leftAt >= m.cfg.Timing.Stuck {
		m.count("leave_timeout")
		m.leave()
	}
	if m.leaving && m.role != roleLeft && m.part == nil && m.coord == nil {
		m.requestLeave()
	}
	if m.role != roleLeft {
		m.pump()
	}
	m.settle()
	m.idle()
}

// idle lets an Idler participant work ahead, at the end of a tick at rest.
func (m *Member) idle() {
	i, ok := m.cfg.Participant.(Idler)
	if !ok || m.role != roleMember || m.part != nil || m.coord != nil || m.pending {
		return
	}
	i.Idle(m.view.ID)
}

// collect moves the stack's outputs into the member's.
func (m *Member) collect() {
	rd := m.stack.Ready()
	// The stack's outputs stay valid until its Advance, which waits for
	// the member's own: the packets' buffers go to the transport uncopied.
	for _, p := range rd.Packets[m.taken.packets:] {
		if p.To != layers.AllPeers {
			m.ready.Packets = append(m.ready.Packets, Packet{To: p.To, Addr: m.view.Members[p.To].Addr, Data: p.Data})
			continue
		}
		for r, e := range m.view.Members {
			if r != m.rank {
				m.ready.Packets = append(m.ready.Packets, Packet{To: r, Addr: e.Addr, Data: p.Data})
			}
		}
	}
	for _, d := range rd.Deliveries[m.taken.deliveries:] {
		m.stats.messages++
		m.stats.bytes += uint64(len(d.Data))
		m.ready.Events = append(m.ready.Events, Event{Kind: Message, From: m.view.Members[d.From], Multicast: d.Type == layers.ECast, Data: d.Data})
	}
	m.taken.packets, m.taken.deliveries = len(rd.Packets), len(rd.Deliveries)
}

// sendCtl sends a control message, or handles it at once when it is for
// this member itself.
func (m *Member) sendCtl(to Endpoint, msg *ctlMsg) {
	msg.From = m.self
	if to == m.self {
		// Handled after the current input, not now: the protocol's
		// handlers are not reentrant.
		m.local.Push(*msg)
		return
	}
	m.sendCtlVia(to, msg, m.sealingFor(to, msg))
}

// settle handles the control messages this member sent itself, and the
// ones those lead to. Every input ends with it.
//
// It stops at a Prepare or a DecideReq a coordinator sent itself, leaving
// it and what follows for Continue: processing or making a decision takes
// a while (for the secure participant, a commit), and the Prepare to
// every other member (or the Flush, when the round is decided early)
// leaves only once the input's outputs are taken, so they process theirs
// meanwhile.
func (m *Member) settle() {
	for m.local.Len() > 0 && m.role != roleLeft {
		if next := m.local.Front(); (next.Type == mPrepare || next.Type == mDecideReq) && !m.pending {
			m.pending = true
			return
		}
		m.pending = false
		msg, _ := m.local.Pop()
		m.handle(&msg)
	}
	m.pending = false
	if m.local.Len() > 0 {
		m.local.Reset() // left: what remains is for nobody
	}
}

// Pending reports whether the last input left work for Continue. A driver
// takes the input's outputs (sends its packets) and then calls Continue,
// before any other input.
func (m *Member) Pending() bool { return m.pending }

// Continue does the work the last input left (Pending): a coordinator
// processing its own Prepare after the Prepare to the others has left, or
// deciding its round after the Flush has left. It is the same work that
// input would have ended with, in the same state: every other input does
// it first, so that none comes in between, even with a driver that never
// calls Continue.
func (m *Member) Continue() {
	if m.pending {
		m.settle()
	}
}

// sendCtlTo sends a control message to an address, unsealed: probes and
// merge requests, which carry their own proofs.
func (m *Member) sendCtlTo(addr netip.AddrPort, msg *ctlMsg) {
	ds := m.datagrams(msg, nil, -1)
	for _, d := range ds {
		m.sendDatagram(addr, d)
	}
	m.countSent(msg.Type, ds, 1)
}

// sendCtlVia sends a control message to e, sealed by s unless s is nil,
// and in fragments when it is larger than a datagram.
func (m *Member) sendCtlVia(e Endpoint, msg *ctlMsg, s *sealing) {
	to := -1
	if s != nil {
		to = s.view.Rank(e)
	}
	ds := m.datagrams(msg, s, to)
	for _, d := range ds {
		m.sendDatagram(e.Addr, d)
	}
	m.countSent(msg.Type, ds, 1)
}

// datagrams encodes a control message, cut into fragments when it is
// larger than a datagram, each sealed by s unless s is nil, for the member
// of rank to in the view of s (-1: any). Only the tags of Pairwise
// messages depend on to: the datagrams of any other name no destination,
// and the same ones may go to every member of the view of s (fanout.go).
// Nil when the message cannot be encoded.
func (m *Member) datagrams(msg *ctlMsg, s *sealing, to int) [][]byte {
	msg.From = m.self
	data, err := msg.encode(nil, m.cfg.Group)
	if err == nil && msg.Type == mProbe && len(data) < probeMinLen {
		msg.Pad = probeMinLen - len(data)
		data, err = msg.encode(data[:0], m.cfg.Group)
	}
	if err != nil {
		m.count("drop.unencodable." + msg.Type.String())
		m.cfg.Logger.Error("control message not sent", "self", m.self, "type", msg.Type, "err", err)
		return nil
	}
	ds := [][]byte{data}
	if len(data) > fragmentLen {
		if ds = m.fragments(data, msg.Type); ds == nil {
			return nil
		}
	}
	if s != nil {
		for i, d := range ds {
			ds[i] = s.seal(m.cfg.Group, m.self, d, to)
		}
	}
	return ds
}

// countSent counts n messages of type t sent as the datagrams ds (none:
// not sent), and those sent in fragments.
func (m *Member) countSent(t msgType, ds [][]byte, n int) {
	if len(ds) == 0 {
		return
	}
	m.counters["sent."+t.String()] += uint64(n)
	if len(ds) > 1 {
		m.counters["sent_fragmented."+t.String()] += uint64(n)
	}
}

// sendDatagram sends one encoded (and sealed, if it is to be) control
// datagram, within the budget toward a stranger.
func (m *Member) sendDatagram(addr netip.AddrPort, data []byte) {
	if !m.inbound.allow(addr, len(data)) {
		m.count("drop.amplification")
		return
	}
	to, ok := m.addrs[addr]
	if !ok {
		to = layers.Unranked
	}
	m.ready.Packets = append(m.ready.Packets, Packet{To: to, Addr: addr, Data: data})
}

func (m *Member) handle(msg *ctlMsg) { m.step(msg) }

func (m *Member) trace(t Trace) {
	if m.cfg.Trace != nil {
		t.View = t.View.Clone()
		m.cfg.Trace(t)
	}
}

// install ends the current view and starts v, with keys for its stack
// (which install owns from here on); alone says that this member made v
// alone.
func (m *Member) install(v View, keys layers.Keys, alone bool) error {
	old := m.view
	// Members of the old view that took part in the flush but are not in
	// v left of their own accord; the others failed (or were cut off).
	var flushed []Endpoint
	if m.part != nil && !m.part.joiner {
		flushed = m.part.survivors
	}
	joiner := m.part != nil && m.part.joiner
	next := m.sealNext
	if m.stack != nil {
		if m.hasUnsent && m.stack.Backlog() > 0 {
			// Sent again first: a queue takes at its back only, so it
			// is rebuilt (once per view change).
			var q queue.Queue[request]
			q.Push(m.unsent)
			for r, ok := m.queue.Pop(); ok; r, ok = m.queue.Pop() {
				q.Push(r)
			}
			m.queue = q
			m.count("resent_in_next_view")
		}
		m.unsent, m.hasUnsent = request{}, false
		m.stack.EndView()
		m.collect()
	}
	m.dropPart(v.ID)
	m.becomeMember()
	m.maxLTime = max(m.maxLTime, v.ID.LTime)
	if !v.Has(m.self) {
		if keys != nil {
			keys.Release()
		}
		m.leave()
		return nil
	}
	rank := v.Rank(m.self)
	stack, err := compose.Build(layers.Config{
		View:        layers.View{Group: m.cfg.Group, ID: v.ID.Wire(), Rank: rank, N: len(v.Members)},
		Seed:        m.cfg.Seed ^ v.ID.LTime,
		MaxDatagram: m.cfg.MaxDatagram,
		MaxMessage:  m.cfg.MaxMessage,
		Keys:        keys,
	}, m.cfg.Layers, m.cfg.Options)
	if err != nil {
		if keys != nil {
			keys.Release()
		}
		return fmt.Errorf("membership: %w", err)
	}
	// The old stack's outputs have all been collected; it is never
	// advanced again, so its buffers stay with the packets until sent.
	m.view, m.rank, m.stack = v.Clone(), rank, stack
	m.taken.packets, m.taken.deliveries = 0, 0
	m.stats.at, m.stats.messages, m.stats.bytes = m.now, 0, 0
	m.flush = stack.ViewFlush()
	if m.cfg.Participant != nil {
		auth := m.cfg.Participant.Authenticator(v.Clone(), rank)
		s := newSealing(v, rank, auth)
		if next != nil && next.view.ID == v.ID && next.rank == rank {
			// The sealing this member used since it processed the
			// decision goes on, with its sequence numbers and replay
			// windows: a message it opened before the install is not
			// new after it. Its authenticator is the installed view's.
			next.auth = auth
			s = next
		}
		m.sealPrev, m.sealNow = m.sealNow, s
	}
	m.addrs = make(map[netip.AddrPort]int, len(v.Members))
	for r, e := range v.Members {
		m.addrs[e.Addr] = r
		m.learn(e.Addr, knownMember)
		m.shunned.forgive(e.Addr)
	}
	// An admission with a peer that is now a member is moot (they share
	// the view's keys): the peer drops its messages as a member's
	// unsealed ones, and left running it would time out as stalled and
	// shun a member of this view.
	m.admissions = slices.DeleteFunc(m.admissions, func(a *admission) bool { return v.Has(a.peer) })
	m.fd.reset(len(v.Members), m.now)
	m.nextProbe = m.now + m.jitter(m.cfg.Timing.Probe)/4
	ev := Event{Kind: ViewChange, View: v.Clone()}
	for _, e := range v.Members {
		if !old.Has(e) {
			ev.Joined = append(ev.Joined, e)
		}
	}
	for _, e := range old.Members {
		switch {
		case v.Has(e):
		case slices.Contains(flushed, e):
			ev.Left = append(ev.Left, e)
		default:
			ev.Failed = append(ev.Failed, e)
		}
	}
	m.ready.Events = append(m.ready.Events, ev)
	m.describe(old, alone, joiner)
	m.trace(Trace{View: v})
	m.count("views_installed")
	m.cfg.Logger.Info("view installed", "self", m.self, "view", v.ID, "members", len(v.Members),
		"joined", ev.Joined, "left", ev.Left, "failed", ev.Failed)
	m.blocked = false
	m.rekey = false
	m.pump()
	return nil
}

// leave ends this member's part in the group.
func (m *Member) leave() {
	if m.stack != nil {
		m.stack.EndView()
		m.collect()
	}
	m.leaving, m.blocked = false, false
	m.becomeLeft()
	if m.queue.Len() > 0 {
		m.counters["drop.unsent_at_leave"] += uint64(m.queue.Len())
		m.queue.Reset()
	}
	m.ready.Events = append(m.ready.Events, Event{Kind: Left})
}

// goAlone installs a view of this member alone, the way out of a view change
// that cannot finish.
func (m *Member) goAlone() {
	m.count("went_alone")
	m.debug("view change made no progress; going on alone")
	v := View{ID: ViewID{LTime: m.maxLTime + 1, Coord: m.self}, Members: []Endpoint{m.self}}
	m.trace(Trace{Consent: true, View: v})
	m.announce = nil
	m.stopCoordinating()
	m.dropPart(ViewID{})
	m.installAlone(v)
}

// installAlone installs a view of this member alone. With a participant,
// the view is decided, processed and installed here at once, so that it
// has keys of its own like any other.
func (m *Member) installAlone(v View) error {
	P := m.cfg.Participant
	if P == nil {
		return m.install(v, nil, true)
	}
	keys, err := func() (layers.Keys, error) {
		contributions := map[Endpoint][]byte{m.self: P.Contribute(v.Clone())}
		d, err := P.Decide(m.view.Clone(), v.Clone(), contributions, nil)
		if err != nil {
			return nil, err
		}
		if _, err := P.Process(v.Clone(), d.Common, d.Parts[m.self]); err != nil {
			return nil, err
		}
		return P.Install(v.Clone())
	}()
	if err != nil {
		// Alone, this member has nobody to protect its traffic from
		// but itself: it goes on without keys rather than stopping.
		m.count("alone_without_keys")
		m.cfg.Logger.Warn("a view of this member alone has no keys", "self", m.self, "view", v.ID, "err", err)
	}
	return m.install(v, keys, true)
}

func (m *Member) block() {
	if !m.blocked {
		m.blocked = true
		m.ready.Events = append(m.ready.Events, Event{Kind: Block})
	}
}

// learn adds an address to those probed for other views (known.go).
func (m *Member) learn(a netip.AddrPort, how knownHow) {
	a = netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
	if a == m.self.Addr || !a.IsValid() {
		return
	}
	m.known.learn(a, m.now, how)
}

// veto keeps e out of every later view change this member coordinates.
// The oldest vetoes go first when there are more than maxVetoed.
func (m *Member) veto(e Endpoint) {
	if m.vetoed[e] {
		return
	}
	if len(m.vetoOrder) >= maxVetoed {
		delete(m.vetoed, m.vetoOrder[0])
		m.vetoOrder = slices.Delete(m.vetoOrder, 0, 1)
	}
	m.vetoed[e] = true
	m.vetoOrder = append(m.vetoOrder, e)
}

// vetoJoiner keeps a joiner out of every later view change this member
// coordinates: by the identity its handshake authenticated, if it ran one,
// else by its endpoint.
func (m *Member) vetoJoiner(e Endpoint) {
	id, ok := m.identities[e]
	if !ok || id.IsZero() {
		m.veto(e)
		return
	}
	if m.vetoedIDs[id] {
		return
	}
	if len(m.vetoIDOrder) >= maxVetoed {
		delete(m.vetoedIDs, m.vetoIDOrder[0])
		m.vetoIDOrder = slices.Delete(m.vetoIDOrder, 0, 1)
	}
	m.vetoedIDs[id] = true
	m.vetoIDOrder = append(m.vetoIDOrder, id)
}

// jitter returns d scaled by a random factor in [0.75, 1.25), so that
// members' timers drift apart.
func (m *Member) jitter(d time.Duration) time.Duration {
	return d*3/4 + time.Duration(m.rng.Int64N(int64(d)/2+1))
}

// coordinatorRank is the rank of the first member this one does not
// suspect: the coordinator, as far as this member can tell.
func (m *Member) coordinatorRank() int {
	for r := range m.view.Members {
		if !m.fd.suspected(r) {
			return r
		}
	}
	return m.rank
}

func (m *Member) isCoordinator() bool { return m.coordinatorRank() == m.rank }
