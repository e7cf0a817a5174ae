package layers

// Roomer is implemented by a layer whose header may not fit the head room
// the layers share (HeadRoom): the security layers, whose tags and
// signatures are longer than every other header together. Room is the
// most it adds to a datagram. The layers that fill datagrams from above
// (bundle, frag) leave free the Room of every layer below them
// (Port.Below), so that a stack without those layers spends none of its
// datagrams on them.
type Roomer interface {
	Room() int
}

// Below is the Room of the layers below this port's layer, summed: what
// a layer filling datagrams leaves free besides the headers of HeadRoom.
func (p *Port) Below() int {
	n := 0
	for _, l := range p.s.layers[:p.i] {
		if r, ok := l.(Roomer); ok {
			n += r.Room()
		}
	}
	return n
}
