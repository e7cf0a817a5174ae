package main

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/transport"
)

func init() { commands = append(commands, newDemoCmd) }

func newDemoCmd() *cobra.Command {
	var members, messages int
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Start a small group on loopback and show it working",
		Long: `demo starts a group of members in this process, each on its own UDP socket
on 127.0.0.1, with the default stack (reliable FIFO multicast and
point-to-point, stability, flow control, fragmentation, bundling).

Every member multicasts a greeting, a burst of messages and one 4 MiB
message, and sends one message to its neighbour; the demo shows what each
member delivered and checks that every member delivered every multicast
exactly once, in each sender's order.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if members < 2 || members > 16 {
				return fmt.Errorf("--members must be between 2 and 16")
			}
			if messages < 0 || messages > 1_000_000 {
				return fmt.Errorf("--messages must be between 0 and 1000000")
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), time.Minute)
			defer cancel()
			return runDemo(ctx, cmd.OutOrStdout(), members, messages)
		},
	}
	cmd.Flags().IntVar(&members, "members", 3, "number of members (2-16)")
	cmd.Flags().IntVar(&messages, "messages", 10000, "messages in each member's burst")
	return cmd
}

func runDemo(ctx context.Context, out io.Writer, n, burst int) error {
	conns := make([]transport.Conn, n)
	addrs := make([]netip.AddrPort, n)
	for i := range n {
		c, err := transport.ListenUDP(netip.MustParseAddrPort("127.0.0.1:0"), transport.UDPOptions{})
		if err != nil {
			return err
		}
		defer c.Close()
		conns[i], addrs[i] = c, c.LocalAddr()
	}
	fmt.Fprintf(out, "starting a group of %d members on loopback:\n", n)
	groups := make([]*conclave.Group, n)
	for i := range n {
		g, err := conclave.Join(ctx, conclave.Config{Group: "demo", Members: addrs, Self: i, Conn: conns[i]})
		if err != nil {
			return err
		}
		defer g.Close()
		groups[i] = g
		fmt.Fprintf(out, "  member %d  %v\n", i, addrs[i])
	}

	big := make([]byte, 4<<20)
	for i := range big {
		big[i] = byte(i % 251)
	}
	start := time.Now()
	errc := make(chan error, n)
	for i, g := range groups {
		go func() {
			errc <- func() error {
				if err := g.Multicast(ctx, fmt.Appendf(nil, "hello from member %d", i)); err != nil {
					return err
				}
				if err := g.Send(ctx, (i+1)%n, fmt.Appendf(nil, "psst, member %d, it's member %d", (i+1)%n, i)); err != nil {
					return err
				}
				for k := range burst {
					if err := g.Multicast(ctx, fmt.Appendf(nil, "m %d %d", i, k)); err != nil {
						return err
					}
				}
				return g.Multicast(ctx, big)
			}()
		}()
	}

	type report struct {
		member    int
		lines     []string
		delivered int
		bytes     int
		err       error
	}
	reports := make(chan report, n)
	perMember := burst + 2 // greeting, burst, big message
	for i, g := range groups {
		go func() {
			rep := report{member: i}
			nextBurst := make([]int, n)
			seen := 0
			for seen < n*perMember+1 {
				var ev conclave.Event
				select {
				case ev = <-g.Events():
				case <-ctx.Done():
					rep.err = fmt.Errorf("member %d: delivered %d of %d messages: %w", i, seen, n*perMember+1, ctx.Err())
					reports <- rep
					return
				}
				seen++
				switch {
				case !ev.Multicast:
					rep.lines = append(rep.lines, fmt.Sprintf("from %d (to me alone): %s", ev.From, ev.Data))
					continue
				case len(ev.Data) == len(big):
					rep.lines = append(rep.lines, fmt.Sprintf("from %d: a %d MiB message, intact: %v", ev.From, len(ev.Data)>>20, string(ev.Data) == string(big)))
				case strings.HasPrefix(string(ev.Data), "hello"):
					rep.lines = append(rep.lines, fmt.Sprintf("from %d: %s", ev.From, ev.Data))
				default:
					var from, k int
					if _, err := fmt.Sscanf(string(ev.Data), "m %d %d", &from, &k); err != nil || from != ev.From || k != nextBurst[from] {
						rep.err = fmt.Errorf("member %d: out of order or corrupt delivery from %d: %q", i, ev.From, ev.Data)
					}
					nextBurst[from]++
				}
				rep.delivered++
				rep.bytes += len(ev.Data)
			}
			reports <- rep
		}()
	}
	for range n {
		if err := <-errc; err != nil {
			return err
		}
	}
	results := make([]report, n)
	for range n {
		r := <-reports
		results[r.member] = r
	}
	elapsed := time.Since(start)
	failed := false
	for _, r := range results {
		fmt.Fprintf(out, "\nmember %d delivered:\n", r.member)
		for _, l := range r.lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
		fmt.Fprintf(out, "  … and %d multicasts in all, each sender's in order\n", r.delivered)
		if r.err != nil {
			fmt.Fprintf(out, "  error: %v\n", r.err)
			failed = true
		}
	}
	var retrans, drops uint64
	for _, g := range groups {
		cs, _ := g.Counters()
		for _, c := range cs {
			switch {
			case strings.HasPrefix(c.Name, "drop."):
				drops += c.Value
			case c.Name == "retransmitted":
				retrans += c.Value
			}
		}
	}
	fmt.Fprintf(out, "\n%d members each delivered %d multicasts (%.1f MiB) in %v; %d retransmissions, %d datagrams dropped\n",
		n, results[0].delivered, float64(results[0].bytes)/(1<<20), elapsed.Round(time.Millisecond), retrans, drops)
	if failed {
		return exitError{code: 1}
	}
	fmt.Fprintln(out, "ok: every member delivered every multicast exactly once, in each sender's order")
	return nil
}
