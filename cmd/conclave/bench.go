package main

// conclave bench: the command's flags and help. The harness, its member
// processes and its report are in internal/bench.

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave/internal/bench"
)

func init() { commands = append(commands, newBenchCmd, newBenchMemberCmd) }

func newBenchCmd() *cobra.Command {
	var o bench.Options
	cmd := &cobra.Command{
		Use:   "bench --members M --size BYTES --duration D",
		Short: "Measure multicast throughput and latency against plain UDP",
		Long: `bench measures the throughput and latency of the group's reliable multicast
against plain UDP, with M member processes talking over UDP on 127.0.0.1.

Two phases run one after the other, with the same processes, fan-out and
message size, a third with --compare-plain and one more with --total.

The stack measured is the secured one, as a group runs by default: each
member makes a Noise key of its own and admits the others' keys, and every
datagram is sealed (encrypt; private point-to-point too). --integrity-only
authenticates without encrypting, --sender-auth adds signed multicasts, and
--insecure measures the plain stack, without keys, instead.

  raw UDP  the sender(s) send each --size-byte message to every other
           member (the fan-out the stack uses) as datagrams of at most the
           stack's datagram size, 1400 bytes: one datagram up to that size,
           ceil(size/1400) above it, as the stack's fragments would be. They
           go in sendmmsg batches of up to 64 datagrams, as fast as the
           sockets take them. A message is that many datagrams that arrived;
           lost ones are not counted.
  plain    with --compare-plain: every member joins a group without keys
           and the senders multicast as in the stack phase below, counted
           the same way; then every member closes it and goes on.
  stack    every member joins the group and waits for a view of all M;
           then the sender(s) multicast --size-byte messages as fast as flow
           control lets them (messages longer than a datagram are fragmented
           by the stack), and every member, the senders included, counts
           the messages it delivers (and checks each sender's order). A view
           change during the phase (a member suspected) fails the bench.
  total    with --total: every member closes its first group, where every
           member has delivered everything, and joins a second one with
           total order (TotalOrder: every member delivers the multicasts in
           the same order); then the same senders send the same messages for
           as long, counted the same way, and the bench checks that every
           member delivered them in the same order.

Each phase lasts --duration. Counting starts after a warm-up of a fifth of it
(at most 500ms) and stops at --duration; the stack and total order phases
then drain, so every member delivers everything before the next phase or the
end.

With --senders one only member 0 sends; with all, every member does.

With --rate N each sender sends N messages per second instead of as fast as
it can, in both phases (paced in steps of at least 1ms: above 1000/s a few
messages go back to back), so that latency is measured at light load: that
is the one-way latency of the stack itself, where at full load it is mostly
the wait behind flow control. The raw UDP phase then measures the one-way
latency of plain datagrams at the same rate too (raw p50, raw p99; for
messages above one datagram, each datagram's). msgs/s then only shows that
every message arrived; the ratio is about 1.

  msgs/s   per member: the mean over members of the messages each delivered
           per second (the slowest member's rate is shown too). For raw UDP
           only the members that receive count: not member 0 with one sender.
  MB/s     size × stack msgs/s / 1e6
  p50 p99  one-way latency of the stack's messages from other members: time
           of delivery minus the send time carried in the message (the wall
           clock, shared by processes on one machine). Without --rate it is
           taken under full load, so it includes the wait behind flow
           control. It needs --size 16 or more.
  ratio    stack msgs/s per member ÷ raw UDP msgs/s per member. Small
           messages are bundled many to a datagram, so it can exceed 1.
  ratio vs plain
           with --compare-plain: stack msgs/s ÷ plain stack msgs/s, both
           per member, measured in the same run (ratio_vs_plain and
           plain_msgs_per_sec in --json).
  vs stack with --total: total order msgs/s ÷ stack msgs/s, both per
           member, measured in the same run.
  max RSS  peak resident set size of a member process (VmHWM).

--slow-receiver makes the last member take that long over every delivery in
the stack phase (it sleeps, in slices of 1ms or more because shorter sleeps
are not kept, so that it delivers at most one message per delay on average);
flow control then holds the senders back to its pace, and the max RSS of each
member shows that no one's memory grows with the backlog. The raw UDP phase
ignores it; the total order phase applies it too.

--json prints one line of JSON instead of the tables: the same numbers, and
per member its rates, latency, max RSS and datagrams and system calls.`,
		Example: `  conclave bench --members 3 --size 1024 --duration 5s
  conclave bench --members 3 --size 1024 --compare-plain
  conclave bench --members 3 --size 1024 --compare-plain --sender-auth
  conclave bench --members 3 --size 64 --rate 1000 --compare-plain
  conclave bench --members 3 --size 1024 --insecure
  conclave bench --members 3 --size 64 --rate 1000 --duration 5s
  conclave bench --members 3 --size 100000 --duration 5s
  conclave bench --members 3 --size 1024 --duration 5s --total
  conclave bench --members 3 --size 64 --duration 5s --senders all --json
  conclave bench --members 3 --size 1024 --duration 5s --slow-receiver 50us`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := o.Check(); err != nil {
				return err
			}
			return bench.Run(cmd.Context(), o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Members, "members", 3, "number of member processes")
	f.IntVar(&o.Size, "size", 1024, "message size in bytes (above 1400, the stack fragments them)")
	f.IntVar(&o.Rate, "rate", 0, "messages per second each sender sends (0: as fast as it can)")
	f.DurationVar(&o.Duration, "duration", 5*time.Second, "length of each phase")
	f.StringVar(&o.Senders, "senders", "one", "who sends: one (member 0) or all")
	f.BoolVar(&o.Total, "total", false, "run a third phase in a group with total order")
	f.BoolVar(&o.JSON, "json", false, "print the result as one line of JSON")
	f.BoolVar(&o.Insecure, "insecure", false, "measure the plain stack, without keys, instead of the secured one")
	f.BoolVar(&o.ComparePlain, "compare-plain", false, "measure the plain stack too, in the same run, and the ratio")
	f.BoolVar(&o.SenderAuth, "sender-auth", false, "sign multicasts (sender authentication)")
	f.BoolVar(&o.IntegrityOnly, "integrity-only", false, "authenticate datagrams without encrypting them")
	f.DurationVar(&o.SlowReceiver, "slow-receiver", 0, "make the last member spend this long on each delivery (stack phase)")
	f.DurationVar(&o.Suspect, "suspect", 0, "the failure detector's timeout (default the library's, 500ms); longer keeps members that a loaded machine starves of CPU in the view")
	f.StringVar(&o.CPUProfile, "cpuprofile", "", "write each member's CPU profile of the stack phase to `DIR`/member-R.pprof (of the plain and total order phases to member-R-plain.pprof, member-R-total.pprof)")
	f.MarkHidden("cpuprofile")
	return cmd
}

func newBenchMemberCmd() *cobra.Command {
	return &cobra.Command{
		Use:    bench.MemberCommand,
		Short:  "One member process of 'conclave bench', driven over stdin and stdout",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return bench.RunMember(cmd.Context(), cmd.InOrStdin(), cmd.OutOrStdout())
		},
	}
}
