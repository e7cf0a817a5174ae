package secure

import "github.com/conclave-go/conclave/membership"

// keepViews is how many views' records a participant keeps.
const keepViews = 16

// record is what a participant remembers of one view: for the simulator's
// checker and the tests, never a secret.
type record struct {
	id        membership.ViewID
	digest    [32]byte
	epoch     uint64
	installed bool
	confirmed bool
}

// history is the records of the last keepViews views, oldest first.
type history struct{ records []record }

func (h *history) find(id membership.ViewID) *record {
	for i := range h.records {
		if h.records[i].id == id {
			return &h.records[i]
		}
	}
	return nil
}

// at returns the record of id, making one (and forgetting the oldest past
// keepViews) if there is none.
func (h *history) at(id membership.ViewID) *record {
	if r := h.find(id); r != nil {
		return r
	}
	if len(h.records) >= keepViews {
		h.records = append(h.records[:0], h.records[1:]...)
	}
	h.records = append(h.records, record{id: id})
	return &h.records[len(h.records)-1]
}
