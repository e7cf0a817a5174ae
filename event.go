package conclave

// EventKind says what an Event reports.
type EventKind uint8

const (
	// Message is a delivered message.
	Message EventKind = iota + 1
)

func (k EventKind) String() string {
	switch k {
	case Message:
		return "message"
	}
	return "unknown"
}

// Event is something that happened in the group, delivered in order.
type Event struct {
	Kind EventKind
	// From is the sender's rank.
	From int
	// Multicast is true for a multicast, false for a message sent to this
	// member alone.
	Multicast bool
	// Data is the message. It belongs to the receiver.
	Data []byte
}
