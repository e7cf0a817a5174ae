package layers

import "github.com/conclave-go/conclave/internal/wire"

// HeadRoom is the space each message reserves for headers pushed on the way
// down. A header that does not fit spills into a newly allocated body.
const HeadRoom = 96

// Message is a byte string built from two parts: headers pushed by layers on
// the way down, stored back to front in a fixed array so that pushing never
// allocates, followed by the body. Its logical bytes are Head() then Body.
//
// On the way down the body is the application's payload (or a slice of it);
// on the way up the body is the received datagram and every header is in it.
// Layers read their header with Front and Consume, which see the pushed
// headers first, so a sender's own multicast can be delivered locally without
// flattening it.
//
// A Message is a value: copying it copies the headers. The body is shared
// and must never be written after the message has been created. The zero
// value is an empty message.
type Message struct {
	head [HeadRoom]byte
	n    int // head[HeadRoom-n:] holds the pushed headers
	Body []byte
}

// NewMessage returns a message whose body is b. The stack owns b from then on.
func NewMessage(b []byte) Message { return Message{Body: b} }

// Reset makes m the message whose body is b, as m = NewMessage(b) would,
// without clearing the space its pushed headers took: for a layer that
// sends every datagram in the same event.
func (m *Message) Reset(b []byte) { m.n, m.Body = 0, b }

// Head returns the pushed headers.
func (m *Message) Head() []byte { return m.head[HeadRoom-m.n:] }

// Len is the length of the whole message.
func (m *Message) Len() int { return m.n + len(m.Body) }

// PushByte prepends one byte.
func (m *Message) PushByte(b byte) {
	if m.n == HeadRoom {
		m.spill()
	}
	m.n++
	m.head[HeadRoom-m.n] = b
}

// Push prepends a whole header. A layer pushes its header with one call
// (or one PushByte), so that the header never straddles a spill.
func (m *Message) Push(h []byte) {
	if m.n+len(h) > HeadRoom {
		m.spill()
		if len(h) > HeadRoom {
			m.Body = append(append(make([]byte, 0, len(h)+len(m.Body)), h...), m.Body...)
			return
		}
	}
	m.n += len(h)
	copy(m.head[HeadRoom-m.n:], h)
}

// spill moves the pushed headers into a new body so the head is empty again.
func (m *Message) spill() {
	m.Body = m.AppendTo(make([]byte, 0, m.Len()))
	m.n = 0
}

// Front returns the part of the message a layer reads its header from: the
// pushed headers if there are any (each layer pushes its header whole, and a
// spill moves all pushed headers at once, so a header never straddles the
// two parts), else the body.
func (m *Message) Front() []byte {
	if m.n > 0 {
		return m.Head()
	}
	return m.Body
}

// Consume removes n bytes from the front, which must be within Front().
func (m *Message) Consume(n int) {
	if m.n > 0 {
		m.n -= n
		return
	}
	m.Body = m.Body[n:]
}

// AppendTo appends the whole message to b.
func (m *Message) AppendTo(b []byte) []byte {
	return append(append(b, m.Head()...), m.Body...)
}

// Bytes returns the whole message as one slice: the body itself when no
// header is pushed, else a new copy.
func (m *Message) Bytes() []byte {
	if m.n == 0 {
		return m.Body
	}
	return m.AppendTo(make([]byte, 0, m.Len()))
}

// Reader returns a strict reader over Front().
func (m *Message) Reader() wire.Reader { return wire.NewReader(m.Front()) }

// ConsumeRead removes from the front what r has read.
func (m *Message) ConsumeRead(r *wire.Reader) { m.Consume(len(m.Front()) - r.Len()) }
