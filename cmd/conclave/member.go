package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/membership"
)

func init() { commands = append(commands, newMemberCmd) }

type memberFlags struct {
	listen   string
	seeds    []string
	group    string
	json     bool
	total    bool
	suspect  time.Duration
	seedWait time.Duration
	logLevel string
	// The secured group's policy.
	integrityOnly bool
	senderAuth    bool
	credentialFlags
}

func newMemberCmd() *cobra.Command {
	var f memberFlags
	cmd := &cobra.Command{
		Use:   "member --listen ADDR [--seed ADDR]... --noise-key FILE --allow PUBKEY... [--group NAME] [--json]",
		Short: "Run one group member: stdin lines are multicast, deliveries and views printed",
		Long: `member runs one member of a group in this process.

It listens on --listen, an IP address of this machine (or a host name that
resolves to one) and a UDP port, and finds the group through the --seed
addresses: the --listen addresses of one or more members already running.
The first member of a group has no seed. Members of one group share its
name, --group; datagrams of other groups are dropped.

A member is secured by default. --noise-key names its private key file
(make one with 'keyadmin keygen noise -o FILE'; it should be readable by its
owner only), and --allow (repeatable) or --allow-file (one key a line, #
for comments) the public keys it admits, as 'keyadmin pubkey' prints them:
"noise:" and 44 characters of base64. A process joins only after a Noise
handshake proves its key and the coordinator finds the key on its list (and
the joiner the coordinator's on its own); every member checks every new
member's key too. Each view has its own key epoch, agreed during the view
change, and control messages are signed or authenticated under the epoch.
Every datagram of the group is sealed under the view's epoch keys: a member
drops (and counts) what no member of the epoch sealed, replays, and every
other epoch's datagrams; a message sent to one member (the Send of the Go
API) is sealed under a key only its sender and its recipient hold.
--integrity-only authenticates datagrams without encrypting them (the
content is readable on the network, Sends too); --sender-auth signs every
multicast, so that no member can forge or alter another's. Every member of
a group must use the same settings.
A process whose key is refused stays alone and learns nothing of the group;
with --log-level debug the member that refused it logs "peer refused", its
key and the reason. --insecure runs the plain stack instead: anyone who can
send datagrams can join, and there are no keys.

Each line read from standard input is multicast to the group. Every
delivered message and every view change is printed on standard output, as
text or, with --json, one JSON object per line:

  {"type":"ready","self":"<member>","identity":"noise:<key>","protection":"private|integrity-only","sender_auth":<bool>}
  {"type":"view","view":"<id>","members":["<member>",...],"joined":[...],"left":[...],"failed":[...],
   "epoch":<n>,"identities":["noise:<key>",...]}
  {"type":"key","epoch":<n>,"reason":"join|leave|failure|merge|rekey|first"}
                       the view's key epoch (several reasons joined by +)
  {"type":"deliver","from":"<member>","data":"<text>"}
  {"type":"block"}     a view change has begun
  {"type":"left"}      this member has left
  {"type":"counters","counters":{"<layer>.<name>":<n>,...}}
                       on SIGUSR1: the member's counters that are not zero
                       (encrypt.drop.replay, membership.drop.not_member, ...)

A member is written ADDRESS#INCARNATION: the incarnation tells apart two runs
of a process at the same address. When standard input ends the member keeps
running; SIGINT (Ctrl-C) or SIGTERM makes it leave the group gracefully and
exit, a second one exits at once.

A member whose seeds never answer is, from inside, exactly like the first
member of a new group, so after --seed-wait alone it warns on standard error
(the usual causes: no member runs at the seed address, it uses another
--group, or a firewall drops the datagrams). A seed equal to --listen is
refused.

--log-level debug writes the membership protocol's decisions (suspicions,
view changes and why they started, timeouts, merges) to standard error.`,
		Example: `  # a key for each member, and the list of their public keys:
  keyadmin keygen noise -o a.key >> allowed
  keyadmin keygen noise -o b.key >> allowed
  # in one terminal, the first member:
  conclave member --listen 127.0.0.1:7000 --noise-key a.key --allow-file allowed
  # in another, a second member that joins it; type a line in either:
  conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --noise-key b.key --allow-file allowed

  # a plain group, without admission or keys:
  conclave member --listen 127.0.0.1:7000 --insecure
  conclave member --listen 127.0.0.1:7001 --seed 127.0.0.1:7000 --insecure

  # for programs, with a group name of its own:
  conclave member --listen localhost:7002 --seed localhost:7000 --group prices --json --noise-key c.key --allow-file allowed`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMember(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr(), f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "", "address to listen on, `HOST:PORT` (required; port 0 picks a free one)")
	fl.StringArrayVar(&f.seeds, "seed", nil, "a running member's address, `HOST:PORT` (repeatable; none starts a new group)")
	fl.StringVar(&f.group, "group", "conclave", "group `name`, the same at every member")
	fl.BoolVar(&f.json, "json", false, "print one JSON object per line")
	fl.BoolVar(&f.total, "total", false, "deliver multicasts in the same order at every member")
	fl.DurationVar(&f.suspect, "suspect", membership.DefaultTiming.Suspect, "suspect a member not heard from for this long")
	fl.DurationVar(&f.seedWait, "seed-wait", conclave.DefaultSeedWait, "warn when no seed has answered after this long (0: never)")
	fl.StringVar(&f.logLevel, "log-level", "warn", "log to standard error at this `level` and above: debug, info, warn, error")
	fl.StringVar(&f.noiseKey, "noise-key", "", "this member's Noise private key `FILE` (keyadmin keygen noise -o FILE)")
	fl.StringArrayVar(&f.allow, "allow", nil, "admit the member with this Noise public key, `noise:BASE64` (repeatable)")
	fl.StringArrayVar(&f.allowFiles, "allow-file", nil, "admit the Noise public keys listed in `FILE`, one a line (repeatable)")
	fl.BoolVar(&f.insecure, "insecure", false, "run a plain group: no credential, no admission check, no keys")
	fl.BoolVar(&f.integrityOnly, "integrity-only", false, "authenticate the group's datagrams without encrypting them")
	fl.BoolVar(&f.senderAuth, "sender-auth", false, "sign every multicast, so that no member can forge another's")
	cmd.MarkFlagRequired("listen")
	return cmd
}

// runMember runs a member until ctx ends, when it leaves the group, or
// until it stops.
func runMember(ctx context.Context, in io.Reader, out, errOut io.Writer, f memberFlags) error {
	if ctx == nil {
		ctx = context.Background()
	}
	listen, err := resolveAddr(ctx, "--listen", f.listen, true)
	if err != nil {
		return err
	}
	var seeds []netip.AddrPort
	for _, s := range f.seeds {
		a, err := resolveAddr(ctx, "--seed", s, false)
		if err != nil {
			return err
		}
		if a == listen {
			return &hintError{
				err:  fmt.Errorf("--seed %s is this member's own --listen address", s),
				hint: "a member finds its group through another member's address; start the first member without --seed",
			}
		}
		seeds = append(seeds, a)
	}
	if f.suspect <= 0 {
		return errors.New("--suspect must be positive")
	}
	if f.insecure && (f.integrityOnly || f.senderAuth) {
		return errors.New("--integrity-only and --sender-auth apply to a secured group, not with --insecure")
	}
	if f.seedWait < 0 {
		return errors.New("--seed-wait must not be negative")
	}
	seedWait := f.seedWait
	if seedWait == 0 {
		seedWait = -1 // never warn
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", f.logLevel)
	}
	logger := slog.New(newCLIHandler(errOut, level))
	mc, err := f.credentialFlags.load(func(w string) { logger.Warn(w) })
	if err != nil {
		return err
	}
	protection := conclave.Private
	if f.integrityOnly {
		protection = conclave.IntegrityOnly
	}
	timing := membership.Timing{Suspect: f.suspect, Flush: 2 * f.suspect, Stuck: 10 * f.suspect}
	g, err := conclave.Join(ctx, conclave.Config{
		Group: f.group, Listen: listen, Seeds: seeds, SeedWait: seedWait,
		TotalOrder: f.total, Timing: timing, Logger: logger,
		Credential: mc.cred, Admit: mc.admit, Insecure: f.insecure,
		Protection: protection, SenderAuth: f.senderAuth,
	})
	if err != nil {
		return joinError(listen, err)
	}
	defer g.Close()

	w := bufio.NewWriter(out)
	p := &printer{w: w, json: f.json}
	if mc.cred != nil {
		id := mc.cred.Identity()
		policy := protection.String()
		if f.senderAuth {
			policy += ", sender authentication"
		}
		p.print(map[string]any{"type": "ready", "self": g.Self().String(), "identity": id.String(),
			"protection": protection.String(), "sender_auth": f.senderAuth},
			"member %v ready (group %q, %s), key %v (fingerprint %s), %d keys allowed", g.Self(), f.group, policy, id, id.Fingerprint, mc.allowed)
	} else {
		p.print(map[string]any{"type": "ready", "self": g.Self().String()}, "member %v ready (group %q), insecure", g.Self(), f.group)
	}

	go func() {
		select {
		case <-ctx.Done():
		case <-g.Done():
			return
		}
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g.Leave(lctx)
	}()
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			if err := g.Multicast(ctx, sc.Bytes()); err != nil {
				return
			}
		}
	}()
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	events := g.Events()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			p.event(ev, mc.cred != nil)
		case <-usr1:
			p.counters(g)
		}
	}
}

// event prints one event of the group.
func (p *printer) event(ev conclave.Event, secured bool) {
	switch ev.Kind {
	case conclave.Message:
		kind := "deliver"
		if !ev.Multicast {
			kind = "send"
		}
		p.print(map[string]any{"type": kind, "from": ev.From.String(), "data": string(ev.Data)}, "%v: %s", ev.From, ev.Data)
	case conclave.Block:
		p.print(map[string]any{"type": "block"}, "(view change under way)")
	case conclave.ViewChange:
		obj := map[string]any{
			"type":    "view",
			"view":    ev.View.ID.String(),
			"members": names(ev.View.Members),
			"joined":  names(ev.Joined),
			"left":    names(ev.Left),
			"failed":  names(ev.Failed),
		}
		line := viewLine(ev)
		if secured {
			ids := make([]string, len(ev.Identities))
			for i, id := range ev.Identities {
				ids[i] = id.String()
			}
			obj["epoch"], obj["identities"] = ev.Epoch, ids
			line += fmt.Sprintf(", epoch %d", ev.Epoch)
		}
		p.print(obj, "%s", line)
	case conclave.KeyChange:
		p.print(map[string]any{"type": "key", "epoch": ev.Epoch, "reason": ev.Reason}, "key epoch %d (%s)", ev.Epoch, ev.Reason)
	case conclave.Left:
		p.print(map[string]any{"type": "left"}, "left the group")
	}
}

// counters prints the member's counters that are not zero, by
// "layer.name".
func (p *printer) counters(g *conclave.Group) {
	cs, err := g.Counters()
	if err != nil {
		return
	}
	m := make(map[string]uint64, len(cs))
	var lines []string
	for _, c := range cs {
		if c.Value != 0 {
			m[c.Layer+"."+c.Name] += c.Value
			lines = append(lines, fmt.Sprintf("  %s.%s %d", c.Layer, c.Name, c.Value))
		}
	}
	p.print(map[string]any{"type": "counters", "counters": m}, "counters:\n%s", strings.Join(lines, "\n"))
}

// joinError adds a hint to the errors of Join a person can act on.
func joinError(listen netip.AddrPort, err error) error {
	switch {
	case errors.Is(err, syscall.EADDRINUSE):
		return &hintError{err, fmt.Sprintf("another process, perhaps another member, uses port %d; choose another with --listen, or port 0 for any free one", listen.Port())}
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return &hintError{err, fmt.Sprintf("%v is not an address of this machine; --listen takes one of its IP addresses, such as 127.0.0.1", listen.Addr())}
	case errors.Is(err, syscall.EACCES):
		return &hintError{err, "ports below 1024 need privileges; choose a higher one"}
	}
	return err
}

// viewLine describes a view change for people: the view, its members, and
// only the changes there were.
func viewLine(ev conclave.Event) string {
	line := fmt.Sprintf("view %v: %s", ev.View.ID, strings.Join(names(ev.View.Members), " "))
	var changes []string
	for _, c := range []struct {
		what string
		who  []conclave.Endpoint
	}{{"joined", ev.Joined}, {"left", ev.Left}, {"failed", ev.Failed}} {
		if len(c.who) > 0 {
			changes = append(changes, c.what+": "+strings.Join(names(c.who), " "))
		}
	}
	if len(changes) > 0 {
		line += " (" + strings.Join(changes, "; ") + ")"
	}
	return line
}

func names(es []conclave.Endpoint) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.String()
	}
	return out
}

// printer writes events for people or, with json, for programs, flushing
// after each so that a reader sees them at once.
type printer struct {
	w    *bufio.Writer
	json bool
}

func (p *printer) print(obj map[string]any, format string, args ...any) {
	if p.json {
		b, _ := json.Marshal(obj)
		p.w.Write(b)
		p.w.WriteByte('\n')
	} else {
		fmt.Fprintf(p.w, format+"\n", args...)
	}
	p.w.Flush()
}
