package bench

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"time"

	"github.com/conclave-go/conclave/internal/benchutil"
	"github.com/conclave-go/conclave/transport"
)

// raw runs the plain UDP phase: senders send datagrams to every other
// member, as fast as the socket takes them or at the rate; everyone counts
// what arrives in the window, and with a rate records the latency of each
// datagram from its send time. The raw socket is closed at the end.
func (m *member) raw(ctx context.Context, start int64) (rawReport, error) {
	w := m.window(start)
	conn := m.rawConn
	var received uint64
	var lat *benchutil.Histogram
	if m.Rate > 0 {
		lat = &benchutil.Histogram{}
	}
	recvDone := make(chan error, 1)
	go func() {
		pkts := make([]transport.Incoming, 32)
		for {
			n, err := conn.ReadBatch(pkts)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					err = nil
				}
				recvDone <- err
				return
			}
			if now := w.clock.Now(); w.counts(now) {
				received += uint64(n)
				if lat != nil {
					for _, p := range pkts[:n] {
						if len(p.Data) >= 8 {
							lat.Record(now - int64(binary.BigEndian.Uint64(p.Data)))
						}
					}
				}
			}
			clear(pkts[:n])
		}
	}()

	var sent uint64
	var err error
	if m.sends(m.Rank) {
		sent, err = m.blast(ctx, &w)
	}
	if err == nil {
		err = w.sleepUntil(ctx, w.end)
	}
	conn.Close()
	if rerr := <-recvDone; err == nil {
		err = rerr
	}
	k := uint64(m.datagramsPerMessage())
	rep := rawReport{Received: received / k, Sent: sent / k, Seconds: w.seconds(), UDP: udpStats(conn), Latency: lat}
	return rep, err
}

// datagramsPerMessage is how many datagrams the raw phase sends a member
// for one message: the message cut into datagrams of the stack's size.
func (s *setup) datagramsPerMessage() int {
	if s.Datagram <= 0 || s.Size <= s.Datagram {
		return 1
	}
	return (s.Size + s.Datagram - 1) / s.Datagram
}

// blast sends messages of the message size, each as datagrams of at most
// the stack's size, to every other member until the end of the window: in
// batches of whole messages as fast as the socket takes them, or one
// message at a time at the rate, each datagram then carrying its send time.
// It returns how many datagrams it sent in the window.
func (m *member) blast(ctx context.Context, w *window) (uint64, error) {
	var others []netip.AddrPort
	for r, a := range m.Raw {
		if r != m.Rank {
			others = append(others, a)
		}
	}
	k := m.datagramsPerMessage()
	var chunks [][]byte
	for off := 0; off < m.Size; {
		n := min(m.Size-off, max(m.Datagram, 1))
		chunks = append(chunks, make([]byte, n))
		off += n
	}
	var pace *benchutil.Pacer
	perBatch := max(1, rawBatch/(len(others)*k))
	if m.Rate > 0 {
		pace = &benchutil.Pacer{Interval: time.Second / time.Duration(m.Rate)}
		perBatch = 1
	}
	var batch []transport.Outgoing
	for range perBatch {
		for _, a := range others {
			for _, c := range chunks {
				batch = append(batch, transport.Outgoing{To: a, Data: c})
			}
		}
	}
	if err := w.sleepUntil(ctx, w.start); err != nil {
		return 0, err
	}
	var sent uint64
	for ctx.Err() == nil {
		if pace != nil {
			if err := pace.Wait(ctx); err != nil {
				return sent, err
			}
		}
		now := w.clock.Now()
		if now >= w.end {
			return sent, nil
		}
		if pace != nil {
			for _, c := range chunks {
				if len(c) >= 8 {
					binary.BigEndian.PutUint64(c, uint64(now))
				}
			}
		}
		n, err := m.rawConn.WriteBatch(batch)
		if err != nil {
			return sent, err
		}
		if now >= w.from {
			sent += uint64(n)
		}
	}
	return sent, context.Cause(ctx)
}
