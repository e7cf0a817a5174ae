package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Print writes the result as tables, with a few lines that say what the
// columns mean.
func (res *Result) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "members\tsize\tduration\tsenders\tstack\tstack msgs/s\tMB/s\tp50\tp99\traw UDP msgs/s\tratio")
	fmt.Fprintf(tw, "%d\t%d B\t%v\t%s\t%s\t%s\t%.1f\t%s\t%s\t%s\t%.2f\n",
		res.Members, res.Size, time.Duration(res.DurationS*float64(time.Second)), res.Senders, res.Protection,
		formatCount(res.MsgsPerSec), res.MBPerSec, formatMicros(res.P50Us), formatMicros(res.P99Us),
		formatCount(res.RawUDPMsgsPerSec), res.RatioVsRawUDP)
	if p := res.PlainResult; p != nil {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "plain stack, same run\tmsgs/s\tp50\tp99\tratio vs plain")
		fmt.Fprintf(tw, "\t%s\t%s\t%s\t%.3f\n",
			formatCount(p.PlainMsgsPerSec), formatMicros(p.PlainP50Us), formatMicros(p.PlainP99Us), p.RatioVsPlain)
	}
	if t := res.TotalResult; t != nil {
		fmt.Fprintln(tw)
		fmt.Fprintln(tw, "with total order\tmsgs/s\tMB/s\tp50\tp99\tvs stack")
		fmt.Fprintf(tw, "\t%s\t%.1f\t%s\t%s\t%.2f\n",
			formatCount(t.TotalMsgsPerSec), t.TotalMBPerSec, formatMicros(t.TotalP50Us), formatMicros(t.TotalP99Us), t.RatioTotalVsStack)
	}
	fmt.Fprintln(tw)
	header := "member\trole\tstack msgs/s\tsent msgs/s\tp50\tp99\traw UDP msgs/s\tmax RSS\tretransmitted\tdrops"
	if res.TotalResult != nil {
		header += "\ttotal order msgs/s\tp50\tp99"
	}
	fmt.Fprintln(tw, header)
	for _, m := range res.PerMember {
		raw := formatCount(m.RawUDPMsgsPerSec)
		if m.RawUDPSentPerSec > 0 {
			raw += fmt.Sprintf(" (sent %s)", formatCount(m.RawUDPSentPerSec))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d",
			m.Rank, m.Role, formatCount(m.MsgsPerSec), formatCount(m.SentPerSec), formatMicros(m.P50Us), formatMicros(m.P99Us),
			raw, formatKiB(m.MaxRSSKB), m.Retransmissions, m.Drops)
		if t := m.MemberTotal; t != nil {
			fmt.Fprintf(tw, "\t%s\t%s\t%s", formatCount(t.TotalMsgsPerSec), formatMicros(t.TotalP50Us), formatMicros(t.TotalP99Us))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmsgs/s: messages delivered per second and member, mean over members (slowest %s);\n"+
		"raw UDP: messages received (each as datagrams of at most 1400 bytes), mean over receiving members; ratio = stack / raw UDP\n",
		formatCount(res.MinMsgsPerSec))
	if p := res.PlainResult; p != nil {
		fmt.Fprintf(w, "plain stack: the same multicasts in a group without keys, before the %s stack (slowest %s); ratio vs plain = %s / plain\n",
			res.Protection, formatCount(p.PlainMinMsgsPerSec), res.Protection)
	}
	if t := res.TotalResult; t != nil {
		fmt.Fprintf(w, "total order: the same multicasts in a group with total order (slowest %s); vs stack = total order / stack\n",
			formatCount(t.TotalMinMsgsPerSec))
	}
	if res.Rate > 0 {
		fmt.Fprintf(w, "at %s messages per second per sender: one-way latency p50 %s, p99 %s; raw UDP datagrams p50 %s, p99 %s\n",
			formatCount(float64(res.Rate)), formatMicros(res.P50Us), formatMicros(res.P99Us), formatMicros(res.RawP50Us), formatMicros(res.RawP99Us))
	}
	if res.ViewChanges > 0 {
		fmt.Fprintf(w, "view changes during the stack phase: %d (every member stayed; each costs a flush)\n", res.ViewChanges)
	}
	if t := res.TotalResult; t != nil && t.TotalViewChanges > 0 {
		fmt.Fprintf(w, "view changes during the total order phase: %d (every member stayed; each costs a flush)\n", t.TotalViewChanges)
	}
	return nil
}

// formatCount formats a rate with thousands separators.
func formatCount(v float64) string {
	s := fmt.Sprintf("%.0f", v)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// formatMicros formats a latency in µs, or in ms from a millisecond on.
func formatMicros(us float64) string {
	switch {
	case us == 0:
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.1f ms", us/1000)
	}
	return fmt.Sprintf("%.0f µs", us)
}

func formatKiB(k uint64) string {
	if k == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f MiB", float64(k)/1024)
}
