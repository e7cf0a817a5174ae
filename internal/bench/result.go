package bench

import (
	"math"

	"github.com/conclave-go/conclave/internal/benchutil"
)

// Result is what bench prints; its JSON is the --json line.
type Result struct {
	Members   int     `json:"members"`
	Size      int     `json:"size"`
	DurationS float64 `json:"duration_s"`
	Senders   string  `json:"senders"`
	// Protection is the stack measured: plain (--insecure), private,
	// integrity-only, each +sender-auth with --sender-auth.
	Protection       string            `json:"protection"`
	SlowReceiverUs   float64           `json:"slow_receiver_us"`
	MsgsPerSec       float64           `json:"msgs_per_sec"`
	MinMsgsPerSec    float64           `json:"min_msgs_per_sec"`
	MBPerSec         float64           `json:"mb_per_sec"`
	P50Us            float64           `json:"p50_us"`
	P99Us            float64           `json:"p99_us"`
	Rate             int               `json:"rate,omitempty"`           // per sender, with --rate
	RawP50Us         float64           `json:"raw_udp_p50_us,omitempty"` // with --rate
	RawP99Us         float64           `json:"raw_udp_p99_us,omitempty"` // with --rate
	RawUDPMsgsPerSec float64           `json:"raw_udp_msgs_per_sec"`
	RatioVsRawUDP    float64           `json:"ratio_vs_raw_udp"`
	MaxRSSKB         uint64            `json:"max_rss_kb"`
	Retransmissions  uint64            `json:"retransmissions"`
	Drops            uint64            `json:"drops"`
	ViewChanges      uint64            `json:"view_changes"`           // the most a member saw
	DropReasons      map[string]uint64 `json:"drop_reasons,omitempty"` // summed over members
	PerMember        []MemberSummary   `json:"per_member"`

	*TotalResult // with --total only
	*PlainResult // with --compare-plain only
}

// PlainResult is the plain stack phase's part of the result, measured in
// the same run as the secured stack. Its fields appear in the JSON only
// with --compare-plain.
type PlainResult struct {
	PlainMsgsPerSec    float64 `json:"plain_msgs_per_sec"`
	PlainMinMsgsPerSec float64 `json:"plain_min_msgs_per_sec"`
	PlainP50Us         float64 `json:"plain_p50_us"`
	PlainP99Us         float64 `json:"plain_p99_us"`
	// RatioVsPlain is the secured stack's msgs/s ÷ the plain stack's,
	// per member.
	RatioVsPlain     float64 `json:"ratio_vs_plain"`
	PlainDrops       uint64  `json:"plain_drops"`
	PlainViewChanges uint64  `json:"plain_view_changes"`
}

// summarizePlain adds the plain stack phase to the result.
func (res *Result) summarizePlain(o Options, plains []stackReport) {
	plain := sumUp(plains)
	p := &PlainResult{
		PlainMsgsPerSec:    plain.mean,
		PlainMinMsgsPerSec: plain.min,
		PlainP50Us:         plain.p50Us,
		PlainP99Us:         plain.p99Us,
	}
	if plain.mean > 0 {
		p.RatioVsPlain = res.MsgsPerSec / plain.mean
	}
	for _, rep := range plains {
		res.MaxRSSKB = max(res.MaxRSSKB, rep.MaxRSSKB)
		p.PlainDrops += rep.Drops
		p.PlainViewChanges = max(p.PlainViewChanges, rep.ViewChanges)
	}
	r := func(v *float64, p float64) { *v = math.Round(*v*p) / p }
	r(&p.PlainMsgsPerSec, 10)
	r(&p.PlainMinMsgsPerSec, 10)
	r(&p.PlainP50Us, 10)
	r(&p.PlainP99Us, 10)
	r(&p.RatioVsPlain, 1000)
	res.PlainResult = p
}

// TotalResult is the total order phase's part of the result. Its
// fields appear in the JSON only with --total.
type TotalResult struct {
	TotalMsgsPerSec    float64 `json:"total_msgs_per_sec"`
	TotalMinMsgsPerSec float64 `json:"total_min_msgs_per_sec"`
	TotalMBPerSec      float64 `json:"total_mb_per_sec"`
	TotalP50Us         float64 `json:"total_p50_us"`
	TotalP99Us         float64 `json:"total_p99_us"`
	// RatioTotalVsStack is total order msgs/s ÷ stack msgs/s, per member.
	RatioTotalVsStack    float64 `json:"ratio_total_vs_stack"`
	TotalRetransmissions uint64  `json:"total_retransmissions"`
	TotalDrops           uint64  `json:"total_drops"`
	TotalViewChanges     uint64  `json:"total_view_changes"`
}

type MemberSummary struct {
	Rank             int     `json:"rank"`
	Role             string  `json:"role"`
	MsgsPerSec       float64 `json:"msgs_per_sec"`
	SentPerSec       float64 `json:"sent_msgs_per_sec"`
	P50Us            float64 `json:"p50_us"`
	P99Us            float64 `json:"p99_us"`
	RawUDPMsgsPerSec float64 `json:"raw_udp_msgs_per_sec"` // received
	RawUDPSentPerSec float64 `json:"raw_udp_sent_per_sec"`
	MaxRSSKB         uint64  `json:"max_rss_kb"`
	Retransmissions  uint64  `json:"retransmissions"`
	Drops            uint64  `json:"drops"`
	// The transport's counts over each whole phase, warm-up and drain
	// included.
	StackUDP udpCounts `json:"stack_udp"`
	RawUDP   udpCounts `json:"raw_udp"`

	*MemberTotal // with --total only
}

// MemberTotal is a member's part of the total order phase.
type MemberTotal struct {
	TotalMsgsPerSec      float64   `json:"total_msgs_per_sec"`
	TotalSentPerSec      float64   `json:"total_sent_msgs_per_sec"`
	TotalP50Us           float64   `json:"total_p50_us"`
	TotalP99Us           float64   `json:"total_p99_us"`
	TotalRetransmissions uint64    `json:"total_retransmissions"`
	TotalDrops           uint64    `json:"total_drops"`
	TotalUDP             udpCounts `json:"total_udp"`
}

func perSec(n uint64, s float64) float64 {
	if s <= 0 {
		return 0
	}
	return float64(n) / s
}

// multicastSummary sums up a multicast phase (stack or total order) over the
// members: the mean and the minimum of the rates at which each delivered,
// and the latency quantiles of the merged histograms.
type multicastSummary struct {
	rates                []float64 // delivered per second, by rank
	mean, min            float64
	p50Us, p99Us         float64   // all members' latencies together
	memberP50, memberP99 []float64 // by rank
}

func sumUp(reps []stackReport) multicastSummary {
	var s multicastSummary
	var lat benchutil.Histogram
	for r, rep := range reps {
		rate := perSec(rep.Delivered, rep.Seconds)
		s.rates = append(s.rates, rate)
		s.mean += rate / float64(len(reps))
		if r == 0 || rate < s.min {
			s.min = rate
		}
		var p50, p99 float64
		if rep.Latency != nil {
			p50, p99 = rep.Latency.Quantile(0.50)/1e3, rep.Latency.Quantile(0.99)/1e3
			lat.Merge(rep.Latency)
		}
		s.memberP50 = append(s.memberP50, p50)
		s.memberP99 = append(s.memberP99, p99)
	}
	s.p50Us, s.p99Us = lat.Quantile(0.50)/1e3, lat.Quantile(0.99)/1e3
	return s
}

// summarize aggregates the members' reports: means and minimum over
// members, latency quantiles of the merged histograms, sums of counters.
// totals, the total order phase's reports, is nil without --total.
func summarize(o Options, raws []rawReport, stacks, totals []stackReport) *Result {
	res := &Result{
		Members:        o.Members,
		Size:           o.Size,
		DurationS:      o.Duration.Seconds(),
		Senders:        o.Senders,
		Protection:     o.protection(),
		SlowReceiverUs: float64(o.SlowReceiver) / 1e3,
		Rate:           o.Rate,
	}
	var rawLat benchutil.Histogram
	for _, raw := range raws {
		if raw.Latency != nil {
			rawLat.Merge(raw.Latency)
		}
	}
	res.RawP50Us, res.RawP99Us = rawLat.Quantile(0.50)/1e3, rawLat.Quantile(0.99)/1e3
	allSend := o.Senders == "all"
	stack := sumUp(stacks)
	var rawSum float64
	rawN := 0
	for r := range o.Members {
		st, raw := stacks[r], raws[r]
		m := MemberSummary{
			Rank:             r,
			Role:             "receiver",
			MsgsPerSec:       stack.rates[r],
			SentPerSec:       perSec(st.Sent, st.Seconds),
			P50Us:            stack.memberP50[r],
			P99Us:            stack.memberP99[r],
			RawUDPMsgsPerSec: perSec(raw.Received, raw.Seconds),
			RawUDPSentPerSec: perSec(raw.Sent, raw.Seconds),
			MaxRSSKB:         st.MaxRSSKB,
			StackUDP:         st.UDP,
			RawUDP:           raw.UDP,
			Retransmissions:  st.Retransmissions,
			Drops:            st.Drops,
		}
		if allSend || r == 0 {
			m.Role = "sender"
		}
		if o.SlowReceiver > 0 && r == o.Members-1 {
			m.Role += " (slow)"
		}
		res.PerMember = append(res.PerMember, m)

		if allSend || r != 0 {
			rawSum += m.RawUDPMsgsPerSec
			rawN++
		}
		res.MaxRSSKB = max(res.MaxRSSKB, m.MaxRSSKB)
		res.Retransmissions += m.Retransmissions
		res.Drops += m.Drops
		res.ViewChanges = max(res.ViewChanges, st.ViewChanges)
		for k, v := range st.DropReasons {
			if res.DropReasons == nil {
				res.DropReasons = make(map[string]uint64)
			}
			res.DropReasons[k] += v
		}
	}
	res.MsgsPerSec, res.MinMsgsPerSec = stack.mean, stack.min
	res.MBPerSec = float64(o.Size) * res.MsgsPerSec / 1e6
	res.P50Us, res.P99Us = stack.p50Us, stack.p99Us
	if rawN > 0 {
		res.RawUDPMsgsPerSec = rawSum / float64(rawN)
	}
	if res.RawUDPMsgsPerSec > 0 {
		res.RatioVsRawUDP = res.MsgsPerSec / res.RawUDPMsgsPerSec
	}
	if totals != nil {
		res.summarizeTotal(o, totals)
	}
	res.round()
	return res
}

// summarizeTotal adds the total order phase to the result.
func (res *Result) summarizeTotal(o Options, totals []stackReport) {
	total := sumUp(totals)
	t := &TotalResult{
		TotalMsgsPerSec:    total.mean,
		TotalMinMsgsPerSec: total.min,
		TotalMBPerSec:      float64(o.Size) * total.mean / 1e6,
		TotalP50Us:         total.p50Us,
		TotalP99Us:         total.p99Us,
	}
	if res.MsgsPerSec > 0 {
		t.RatioTotalVsStack = total.mean / res.MsgsPerSec
	}
	for r, rep := range totals {
		res.PerMember[r].MemberTotal = &MemberTotal{
			TotalMsgsPerSec:      total.rates[r],
			TotalSentPerSec:      perSec(rep.Sent, rep.Seconds),
			TotalP50Us:           total.memberP50[r],
			TotalP99Us:           total.memberP99[r],
			TotalRetransmissions: rep.Retransmissions,
			TotalDrops:           rep.Drops,
			TotalUDP:             rep.UDP,
		}
		res.MaxRSSKB = max(res.MaxRSSKB, rep.MaxRSSKB)
		t.TotalRetransmissions += rep.Retransmissions
		t.TotalDrops += rep.Drops
		t.TotalViewChanges = max(t.TotalViewChanges, rep.ViewChanges)
		for k, v := range rep.DropReasons {
			if res.DropReasons == nil {
				res.DropReasons = make(map[string]uint64)
			}
			res.DropReasons["total:"+k] += v
		}
	}
	res.TotalResult = t
}

// round keeps a tenth of a message per second or of a microsecond, a
// hundredth of a MB/s and a thousandth of the ratio: the measurement is not
// more precise than that.
func (res *Result) round() {
	r := func(v *float64, decimals float64) {
		p := math.Pow(10, decimals)
		*v = math.Round(*v*p) / p
	}
	r(&res.MsgsPerSec, 1)
	r(&res.MinMsgsPerSec, 1)
	r(&res.MBPerSec, 2)
	r(&res.P50Us, 1)
	r(&res.P99Us, 1)
	r(&res.RawP50Us, 1)
	r(&res.RawP99Us, 1)
	r(&res.RawUDPMsgsPerSec, 1)
	r(&res.RatioVsRawUDP, 3)
	if t := res.TotalResult; t != nil {
		r(&t.TotalMsgsPerSec, 1)
		r(&t.TotalMinMsgsPerSec, 1)
		r(&t.TotalMBPerSec, 2)
		r(&t.TotalP50Us, 1)
		r(&t.TotalP99Us, 1)
		r(&t.RatioTotalVsStack, 3)
	}
	for i := range res.PerMember {
		m := &res.PerMember[i]
		r(&m.MsgsPerSec, 1)
		r(&m.SentPerSec, 1)
		r(&m.P50Us, 1)
		r(&m.P99Us, 1)
		r(&m.RawUDPMsgsPerSec, 1)
		r(&m.RawUDPSentPerSec, 1)
		if t := m.MemberTotal; t != nil {
			r(&t.TotalMsgsPerSec, 1)
			r(&t.TotalSentPerSec, 1)
			r(&t.TotalP50Us, 1)
			r(&t.TotalP99Us, 1)
		}
	}
}
