package membership

// A coordinator sends the same control message to every member of a round
// (Flush, Sync, Prepare, Install), and with a participant each of those is
// signed (Change): signing it once per destination made Ed25519 most of a
// coordinator's work at 64 members. A sealed envelope names no destination
// (auth.go), so a fanout encodes and seals the message once per sealing it
// goes out under and sends the same datagrams to each member. Every
// receiver keeps its own replay window per sender, so the same sequence
// number reaching several members is new to each of them; a repeat of the
// message (Retry) is a new fanout, sealed anew under a new number.
type fanout struct {
	m    *Member
	msg  ctlMsg
	sent map[*sealing][][]byte // the datagrams, by the sealing they went out under (nil: none)
}

// fanout prepares msg for several members; it is sent with send.
func (m *Member) fanout(msg ctlMsg) *fanout {
	return &fanout{m: m, msg: msg, sent: make(map[*sealing][][]byte, 1)}
}

// send sends the message to e: to this member itself at once (as sendCtl),
// else as the datagrams already sealed under the sealing e is sent under,
// sealing them the first time.
func (f *fanout) send(e Endpoint) {
	m := f.m
	if e == m.self {
		cp := f.msg
		m.sendCtl(e, &cp)
		return
	}
	s := m.sealingFor(e, &f.msg)
	if c, _ := classOf(f.msg.Type); c == Pairwise && s != nil {
		// Sealed for one recipient: never sent to another.
		cp := f.msg
		m.sendCtlVia(e, &cp, s)
		return
	}
	ds, ok := f.sent[s]
	if !ok {
		cp := f.msg
		ds = m.datagrams(&cp, s, -1)
		f.sent[s] = ds
	}
	for _, d := range ds {
		m.sendDatagram(e.Addr, d)
	}
	m.countSent(f.msg.Type, ds, 1)
}
