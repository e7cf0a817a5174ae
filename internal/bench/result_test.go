package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
)

// totalKeys are the keys that a total order phase adds to the JSON.
var totalKeys = []string{"total_msgs_per_sec", "total_p50_us", "total_p99_us", "ratio_total_vs_stack"}

// TestSummary checks the arithmetic of the summary on made-up reports.
func TestSummary(t *testing.T) {
	o := Options{Members: 3, Size: 1000, Duration: 2 * time.Second, Senders: "one"}
	raws := []rawReport{
		{Sent: 400, Seconds: 1},
		{Received: 150, Seconds: 1},
		{Received: 250, Seconds: 1},
	}
	stacks := []stackReport{
		{Delivered: 300, Seconds: 1, MaxRSSKB: 10, Retransmissions: 2},
		{Delivered: 100, Seconds: 1, MaxRSSKB: 30, Drops: 1},
		{Delivered: 200, Seconds: 1, MaxRSSKB: 20, Retransmissions: 1},
	}
	res := summarize(o, raws, stacks, nil)
	if res.MsgsPerSec != 200 || res.MinMsgsPerSec != 100 || res.MBPerSec != 0.2 {
		t.Errorf("stack: mean %v min %v MB/s %v, want 200 100 0.2", res.MsgsPerSec, res.MinMsgsPerSec, res.MBPerSec)
	}
	// Member 0 sends and receives nothing in the raw phase: it is not a
	// receiving member and does not count.
	if res.RawUDPMsgsPerSec != 200 || res.RatioVsRawUDP != 1 {
		t.Errorf("raw: %v ratio %v, want 200 and 1", res.RawUDPMsgsPerSec, res.RatioVsRawUDP)
	}
	if res.MaxRSSKB != 30 || res.Retransmissions != 3 || res.Drops != 1 {
		t.Errorf("max RSS %v retransmissions %v drops %v, want 30 3 1", res.MaxRSSKB, res.Retransmissions, res.Drops)
	}
	var out bytes.Buffer
	if err := res.Print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "ratio") || !strings.Contains(out.String(), "max RSS") {
		t.Errorf("table lacks headings:\n%s", out.String())
	}
	if strings.Contains(out.String(), "total order") {
		t.Errorf("table shows total order without --total:\n%s", out.String())
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range totalKeys {
		if bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON has %q without --total: %s", k, b)
		}
	}

	// The same with a total order phase at 3/4 of the stack's pace.
	o.Total = true
	totals := []stackReport{
		{Delivered: 225, Sent: 225, Seconds: 1, Retransmissions: 4},
		{Delivered: 75, Seconds: 1, Drops: 2, DropReasons: map[string]uint64{"mnak.drop.log_full": 2}},
		{Delivered: 150, Seconds: 1, ViewChanges: 1},
	}
	res = summarize(o, raws, stacks, totals)
	tr := res.TotalResult
	if tr == nil {
		t.Fatal("no total order result")
	}
	if tr.TotalMsgsPerSec != 150 || tr.TotalMinMsgsPerSec != 75 || tr.TotalMBPerSec != 0.15 || tr.RatioTotalVsStack != 0.75 {
		t.Errorf("total: mean %v min %v MB/s %v ratio %v, want 150 75 0.15 0.75",
			tr.TotalMsgsPerSec, tr.TotalMinMsgsPerSec, tr.TotalMBPerSec, tr.RatioTotalVsStack)
	}
	if tr.TotalRetransmissions != 4 || tr.TotalDrops != 2 || tr.TotalViewChanges != 1 || res.DropReasons["total:mnak.drop.log_full"] != 2 {
		t.Errorf("total: retransmissions %v drops %v view changes %v reasons %v, want 4 2 1 and the reason",
			tr.TotalRetransmissions, tr.TotalDrops, tr.TotalViewChanges, res.DropReasons)
	}
	if m := res.PerMember[0].MemberTotal; m == nil || m.TotalMsgsPerSec != 225 || m.TotalSentPerSec != 225 {
		t.Errorf("member 0's total order part: %+v, want 225 delivered and sent per second", m)
	}
	if res.MsgsPerSec != 200 {
		t.Errorf("the total order phase changed the stack's mean: %v", res.MsgsPerSec)
	}
	out.Reset()
	if err := res.Print(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"with total order", "vs stack", "0.75"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
	b, err = json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for _, k := range totalKeys {
		if _, ok := got[k]; !ok {
			t.Errorf("JSON lacks %q with --total: %s", k, b)
		}
	}
}

// TestSummaryRate checks that with --rate the raw UDP latency of the
// members is merged and printed next to the stack's, and that the size of a
// raw message follows the stack's datagram size.
func TestSummaryRate(t *testing.T) {
	o := Options{Members: 3, Size: 64, Duration: 2 * time.Second, Senders: "one", Rate: 1000}
	lat := func(us ...int64) *benchutil.Histogram {
		var h benchutil.Histogram
		for _, u := range us {
			h.Record(u * 1000)
		}
		return &h
	}
	raws := []rawReport{
		{Sent: 1000, Seconds: 1},
		{Received: 1000, Seconds: 1, Latency: lat(10, 10, 10)},
		{Received: 1000, Seconds: 1, Latency: lat(10, 10, 10, 1000)},
	}
	stacks := []stackReport{
		{Delivered: 1000, Seconds: 1},
		{Delivered: 1000, Seconds: 1, Latency: lat(40, 40)},
		{Delivered: 1000, Seconds: 1, Latency: lat(40, 40)},
	}
	res := summarize(o, raws, stacks, nil)
	if res.Rate != 1000 || res.RawP50Us < 9 || res.RawP50Us > 11 || res.RawP99Us < 900 || res.P50Us < 36 || res.P50Us > 44 {
		t.Errorf("rate %v, raw p50 %v p99 %v, stack p50 %v: want 1000, about 10, about 1000, about 40", res.Rate, res.RawP50Us, res.RawP99Us, res.P50Us)
	}
	var out bytes.Buffer
	if err := res.Print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "at 1,000 messages per second per sender: one-way latency p50 ") {
		t.Errorf("table lacks the latency at the rate:\n%s", out.String())
	}

	for _, tc := range []struct{ size, want int }{{1, 1}, {1400, 1}, {1401, 2}, {3000, 3}, {1 << 20, 749}} {
		s := setup{Size: tc.size, Datagram: 1400}
		if got := s.datagramsPerMessage(); got != tc.want {
			t.Errorf("%d bytes: %d datagrams, want %d", tc.size, got, tc.want)
		}
	}
}

// TestSummaryComparePlain checks the plain stack's part of the summary on
// made-up reports: its mean, the ratio of the secured stack's to it, the
// line of the table and the keys of the JSON.
func TestSummaryComparePlain(t *testing.T) {
	o := Options{Members: 2, Size: 100, Duration: time.Second, Senders: "one", ComparePlain: true, SenderAuth: true}
	raws := []rawReport{{Sent: 100, Seconds: 1}, {Received: 100, Seconds: 1}}
	stacks := []stackReport{{Delivered: 80, Seconds: 1}, {Delivered: 80, Seconds: 1}}
	plains := []stackReport{{Delivered: 100, Seconds: 1}, {Delivered: 100, Seconds: 1, Drops: 2}}
	res := summarize(o, raws, stacks, nil)
	res.summarizePlain(o, plains)
	if res.Protection != "private+sender-auth" || res.PlainMsgsPerSec != 100 || res.RatioVsPlain != 0.8 || res.PlainDrops != 2 {
		t.Errorf("protection %q plain %v ratio %v drops %v, want private+sender-auth 100 0.8 2",
			res.Protection, res.PlainMsgsPerSec, res.RatioVsPlain, res.PlainDrops)
	}
	var out bytes.Buffer
	if err := res.Print(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "plain stack, same run") || !strings.Contains(out.String(), "0.800") {
		t.Errorf("table lacks the plain stack's line:\n%s", out.String())
	}
	b, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"plain_msgs_per_sec":100`, `"ratio_vs_plain":0.8`, `"protection":"private+sender-auth"`} {
		if !bytes.Contains(b, []byte(k)) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}
