package bench

import (
	"bufio"
	"context"
	crand "crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/transport"
)

// loopback is where a member binds its sockets.
var loopback = netip.MustParseAddrPort("127.0.0.1:0")

var errParentGone = errors.New("bench-member: standard input closed: the parent is gone")

// member is a member process's state across the phases.
type member struct {
	setup
	rawConn *transport.UDPConn
	stackG  group // the stack phase's
	totalG  group // the total order phase's
	plainG  group // the plain stack phase's, with --compare-plain
	key     *noise.PrivateKey
}

// group is a group a member process joins for a multicast phase.
type group struct {
	conn  *transport.UDPConn
	addrs []netip.AddrPort       // every member's, by rank
	ranks map[netip.AddrPort]int // address → rank
	total bool                   // with total order
	plain bool                   // the plain stack, whatever the setup says
	group *conclave.Group        // after join
	view  conclave.View          // the view joined, of every member
}

func (bg *group) setAddrs(addrs []netip.AddrPort) {
	bg.addrs = addrs
	bg.ranks = make(map[netip.AddrPort]int, len(addrs))
	for r, a := range addrs {
		bg.ranks[a] = r
	}
}

func (bg *group) close() {
	if bg.group != nil {
		bg.group.Close()
	}
	if bg.conn != nil {
		bg.conn.Close()
	}
}

// RunMember is a member process: it reads the parent's commands as JSON
// lines from in and answers on out, until in ends.
func RunMember(ctx context.Context, in io.Reader, out io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	m := &member{totalG: group{total: true}, plainG: group{plain: true}}
	var err error
	// A key of the member's own, made here: no secret crosses the pipes.
	if m.key, err = noise.GenerateKey(crand.Reader); err != nil {
		return err
	}
	if m.rawConn, err = transport.ListenUDP(loopback, transport.UDPOptions{}); err != nil {
		return err
	}
	defer m.rawConn.Close()
	// The total order phase's socket is bound whether it runs or not, so
	// that its address goes with the others in the hello.
	for _, bg := range []*group{&m.stackG, &m.totalG, &m.plainG} {
		if bg.conn, err = transport.ListenUDP(loopback, transport.UDPOptions{}); err != nil {
			return err
		}
		defer bg.close()
	}

	enc := json.NewEncoder(out)
	if err := enc.Encode(hello{Raw: m.rawConn.LocalAddr(), Stack: m.stackG.conn.LocalAddr(), Total: m.totalG.conn.LocalAddr(),
		Plain: m.plainG.conn.LocalAddr(), Key: m.key.Public().String()}); err != nil {
		return err
	}
	cmds := make(chan command, 4)
	go readCommands(in, cmds, cancel)

	c, ok := <-cmds
	if !ok {
		return context.Cause(ctx)
	}
	if c.Cmd != cmdSetup || c.Setup == nil {
		return fmt.Errorf("bench-member: got %q, want setup", c.Cmd)
	}
	m.setup = *c.Setup
	m.stackG.setAddrs(m.Stack)
	if m.Total != nil {
		if len(m.Total) != len(m.Stack) {
			return fmt.Errorf("bench-member: %d total order addresses for %d members", len(m.Total), len(m.Stack))
		}
		m.totalG.setAddrs(m.Total)
	}
	if m.Plain != nil {
		if len(m.Plain) != len(m.Stack) {
			return fmt.Errorf("bench-member: %d plain stack addresses for %d members", len(m.Plain), len(m.Stack))
		}
		m.plainG.setAddrs(m.Plain)
	}
	if m.Keys != nil && len(m.Keys) != len(m.Stack) {
		return fmt.Errorf("bench-member: %d keys for %d members", len(m.Keys), len(m.Stack))
	}
	for c := range cmds {
		switch c.Cmd {
		case cmdRaw:
			rep, err := m.raw(ctx, c.Start)
			if err != nil {
				return fmt.Errorf("raw UDP: %w", err)
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
		case cmdJoinPlain, cmdJoin, cmdJoinTotal:
			bg := &m.stackG
			switch c.Cmd {
			case cmdJoinPlain:
				if m.Plain == nil {
					return errors.New("bench-member: join-plain without plain stack addresses")
				}
				bg = &m.plainG
			case cmdJoin:
				// As with total order below: every member has reported
				// the plain phase.
				m.plainG.close()
			case cmdJoinTotal:
				if m.Total == nil {
					return errors.New("bench-member: join-total without total order addresses")
				}
				// Every member has reported the stack phase, so none
				// needs this one in the first group any more; closing it
				// keeps the two groups from competing for the processor.
				m.stackG.close()
				bg = &m.totalG
			}
			if err := m.join(ctx, bg); err != nil {
				return fmt.Errorf("%s: %w", c.Cmd, err)
			}
			if err := enc.Encode(joined{View: bg.view.ID.String()}); err != nil {
				return err
			}
		case cmdPlain, cmdStack, cmdTotal:
			bg := &m.stackG
			switch c.Cmd {
			case cmdTotal:
				bg = &m.totalG
			case cmdPlain:
				bg = &m.plainG
			}
			if bg.group == nil {
				return fmt.Errorf("bench-member: %s before joining its group", c.Cmd)
			}
			rep, err := m.multicast(ctx, bg, c.Start)
			if err != nil {
				return fmt.Errorf("%s: %w", c.Cmd, err)
			}
			if err := enc.Encode(rep); err != nil {
				return err
			}
			if c.Cmd == cmdPlain || (c.Cmd == cmdStack && m.Total != nil) {
				continue
			}
			// Stay in the group until every member is done: the others
			// may still need this one's retransmissions and acks.
			for range cmds {
			}
			return nil
		default:
			return fmt.Errorf("bench-member: unknown command %q", c.Cmd)
		}
	}
	return context.Cause(ctx)
}

// readCommands passes on the parent's lines; at the end of its input it
// cancels the member's work.
func readCommands(in io.Reader, cmds chan<- command, cancel context.CancelCauseFunc) {
	defer close(cmds)
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var c command
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			cancel(fmt.Errorf("bench-member: bad command: %w", err))
			return
		}
		cmds <- c
	}
	cancel(errParentGone)
}
