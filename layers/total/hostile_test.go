package total_test

import (
	"testing"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	lt "github.com/conclave-go/conclave/layers/internal/layertest"
	"github.com/conclave-go/conclave/layers/total"
)

// TestOrderQueueFlood feeds ORDERs from the sequencer naming casts that
// never come: the queue stops at MaxQueued casts and the rest is dropped.
func TestOrderQueueFlood(t *testing.T) {
	m := lt.NewAt(t, 1, 3, compose.Total, compose.Options{})
	const per = total.MaxOrderCount / 8
	for seq := range uint64(40) {
		order := total.AppendOrder(nil, []total.Run{{Origin: 2, Count: per}})
		m.Feed(lt.Datagram(total.Sequencer, layers.ECast, lt.Uv(seq), []byte{1}, order))
		m.CheckFootprint()
	}
	want := uint64(40 - 3*total.QueuedPerOrigin/per)
	if got := m.Drops("total", "order_queue_full"); got != want {
		t.Fatalf("%d ORDERs dropped, want %d", got, want)
	}
}
