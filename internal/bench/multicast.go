package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/conclave-go/conclave"
	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/auth/noise"
	"github.com/conclave-go/conclave/internal/benchutil"
)

// join joins bg's group on its socket and waits until this member is in a
// view of every member.
func (m *member) join(ctx context.Context, bg *group) error {
	name := m.Group
	switch {
	case bg.total:
		name += "/total"
	case bg.plain:
		name += "/plain"
	}
	cfg := conclave.Config{
		Group:      name,
		Members:    bg.addrs,
		Self:       m.Rank,
		Conn:       bg.conn,
		TotalOrder: bg.total,
	}
	cfg.Timing.Suspect = m.Suspect
	if bg.plain || m.Keys == nil {
		cfg.Insecure = true
	} else {
		cfg.Credential = noise.NewCredential(m.key)
		cfg.Admit = auth.Allow(m.Keys...)
		cfg.SenderAuth = m.SenderAuth
		if m.IntegrityOnly {
			cfg.Protection = conclave.IntegrityOnly
		}
	}
	g, err := conclave.Join(ctx, cfg)
	if err != nil {
		return err
	}
	bg.group = g
	ctx, cancel := context.WithTimeoutCause(ctx, joinLimit,
		fmt.Errorf("no view of all %d members after %v", len(bg.addrs), joinLimit))
	defer cancel()
	bg.view, err = g.AwaitView(ctx, func(v conclave.View) bool { return len(v.Members) == len(bg.addrs) })
	return cause(ctx, err)
}

// multicast runs a multicast phase (stack or total order) in bg's group:
// multicast until the end of the phase if a sender, deliver until every
// sender's end marker, and report. The group is left open for the parent to
// say when everyone is done.
func (m *member) multicast(ctx context.Context, bg *group, start int64) (stackReport, error) {
	var rep stackReport
	g := bg.group
	if m.CPUProfile != "" {
		file := fmt.Sprintf("member-%d.pprof", m.Rank)
		switch {
		case bg.total:
			file = fmt.Sprintf("member-%d-total.pprof", m.Rank)
		case bg.plain:
			file = fmt.Sprintf("member-%d-plain.pprof", m.Rank)
		}
		f, err := os.Create(filepath.Join(m.CPUProfile, file))
		if err != nil {
			return rep, err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return rep, err
		}
		defer pprof.StopCPUProfile()
	}
	w := m.window(start)
	ctx, cancel := context.WithDeadlineCause(ctx, time.Unix(0, w.end).Add(drainLimit),
		fmt.Errorf("not drained %v after the end of the phase", drainLimit))
	defer cancel()

	type castResult struct {
		sent uint64
		err  error
	}
	cast := make(chan castResult, 1)
	if m.sends(m.Rank) {
		go func() {
			n, err := m.cast(ctx, g, &w)
			cast <- castResult{n, err}
		}()
	} else {
		cast <- castResult{}
	}
	rep, err := m.deliver(ctx, bg, &w)
	if err != nil {
		cancel()
	}
	cr := <-cast
	if err == nil {
		err = cr.err
	}
	if err != nil {
		return rep, err
	}
	rep.Sent = cr.sent
	cs, err := g.Counters()
	if err != nil {
		return rep, err
	}
	for _, c := range cs {
		switch {
		case c.Name == "retransmitted":
			rep.Retransmissions += c.Value
		case strings.HasPrefix(c.Name, "drop.") && c.Value > 0:
			rep.Drops += c.Value
			if rep.DropReasons == nil {
				rep.DropReasons = make(map[string]uint64)
			}
			rep.DropReasons[c.Layer+"."+c.Name] += c.Value
		}
	}
	rep.UDP = udpStats(bg.conn)
	rep.MaxRSSKB = benchutil.PeakRSSKB()
	return rep, nil
}

// cast multicasts messages of the message size as fast as flow control
// allows, or at the rate, until the end of the window, then an end marker one byte longer.
// Each message carries its send time and sequence number when it is long
// enough. It returns how many it sent in the window.
func (m *member) cast(ctx context.Context, g *conclave.Group, w *window) (uint64, error) {
	if err := w.sleepUntil(ctx, w.start); err != nil {
		return 0, err
	}
	msg := make([]byte, m.Size+1)
	var seq, sent uint64
	var pace *benchutil.Pacer
	if m.Rate > 0 {
		pace = &benchutil.Pacer{Interval: time.Second / time.Duration(m.Rate)}
	}
	for {
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return sent, cause(ctx, err)
			}
		}
		now := w.clock.Now()
		if now >= w.end {
			break
		}
		if m.Size >= header {
			binary.BigEndian.PutUint64(msg[0:], uint64(now))
			binary.BigEndian.PutUint64(msg[8:], seq)
		}
		if err := g.Multicast(ctx, msg[:m.Size]); err != nil {
			return sent, fmt.Errorf("multicast %d: %w", seq, cause(ctx, err))
		}
		if now >= w.from {
			sent++
		}
		seq++
	}
	if m.Size >= header {
		binary.BigEndian.PutUint64(msg[0:], uint64(w.clock.Now()))
		binary.BigEndian.PutUint64(msg[8:], seq)
	}
	if err := g.Multicast(ctx, msg); err != nil {
		return sent, fmt.Errorf("multicast the end marker: %w", cause(ctx, err))
	}
	return sent, nil
}

// deliver counts deliveries in the window and records the latency of other
// members' messages, checking that each sender's arrive in order with none
// missing, until it has every sender's end marker. It hashes the order of
// all deliveries.
func (m *member) deliver(ctx context.Context, bg *group, w *window) (stackReport, error) {
	rep := stackReport{Seconds: w.seconds(), Latency: &benchutil.Histogram{}, Order: orderSeed}
	g := bg.group
	next := make([]uint64, len(bg.addrs))
	var pace *benchutil.Pacer
	if m.slow() {
		pace = &benchutil.Pacer{Interval: m.SlowReceiver}
	}
	events := g.Events()
	inView := false
	for ended := 0; ended < m.senders(); {
		// Take a waiting event without the cost of a two-way select, which
		// at a million events a second would be the bench measuring itself.
		var ev conclave.Event
		var ok bool
		select {
		case ev, ok = <-events:
		default:
			select {
			case ev, ok = <-events:
			case <-ctx.Done():
				return rep, fmt.Errorf("%w: end markers from %d of %d senders, messages delivered from each: %v",
					context.Cause(ctx), ended, m.senders(), next)
			}
		}
		if !ok {
			_, err := g.Counters()
			return rep, fmt.Errorf("the group stopped: %v", err)
		}
		now := w.clock.Now()
		switch ev.Kind {
		case conclave.Message:
		case conclave.Block, conclave.KeyChange:
			continue
		case conclave.ViewChange:
			// The views that led to the full one come first. A view change
			// after it that keeps every member costs only time; one that
			// loses a member ends the bench, as its messages stop.
			if !inView {
				inView = ev.View.ID == bg.view.ID
				continue
			}
			rep.ViewChanges++
			if len(ev.View.Members) < len(bg.addrs) {
				return rep, fmt.Errorf("the group lost members during the phase: view %v has %d of %d (failed %v, left %v); "+
					"a member that is starved of CPU or whose datagrams are dropped may be suspected",
					ev.View.ID, len(ev.View.Members), len(bg.addrs), ev.Failed, ev.Left)
			}
			continue
		default:
			return rep, fmt.Errorf("unexpected %v event", ev.Kind)
		}
		from, known := bg.ranks[ev.From.Addr]
		if !known || !m.sends(from) {
			return rep, fmt.Errorf("delivery from %v, which does not send", ev.From)
		}
		marker := len(ev.Data) == m.Size+1
		if !marker && len(ev.Data) != m.Size {
			return rep, fmt.Errorf("delivery of %d bytes from member %d, want %d", len(ev.Data), from, m.Size)
		}
		if m.Size >= header {
			if seq := binary.BigEndian.Uint64(ev.Data[8:]); seq != next[from] {
				what := "a gap"
				if seq < next[from] {
					what = "a duplicate"
				}
				return rep, fmt.Errorf("the stack delivered message %d from member %d where %d was due (%s)", seq, from, next[from], what)
			}
		}
		rep.Order = orderHash(rep.Order, from, next[from])
		next[from]++
		if marker {
			ended++
			continue
		}
		if w.counts(now) {
			rep.Delivered++
			if m.Size >= header && from != m.Rank {
				rep.Latency.Record(now - int64(binary.BigEndian.Uint64(ev.Data)))
			}
		}
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return rep, err
			}
		}
	}
	return rep, nil
}

// orderSeed and orderHash hash the order of deliveries (FNV-1a of
// each delivery's sender and index in its sender's stream).
const orderSeed = 14695981039346656037

func orderHash(h uint64, from int, index uint64) uint64 {
	for _, x := range [2]uint64{uint64(from), index} {
		for range 8 {
			h ^= x & 0xff
			h *= 1099511628211
			x >>= 8
		}
	}
	return h
}

// cause prefers the reason ctx ended to err, which then is only its
// symptom.
func cause(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	return err
}
