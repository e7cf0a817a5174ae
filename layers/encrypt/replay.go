package encrypt

// replayWords is the number of 64-bit words in a replay bitmap.
const replayWords = 32

// ReplayWindow is how far behind the newest datagram authenticated from a
// sender an older one may still be accepted, in datagrams: RFC 6479's
// bitmap, one word kept free so that the window slides a word at a time.
const ReplayWindow = (replayWords - 1) * 64

// replay is one sender's window of datagram numbers (generation·2^16 +
// counter) already authenticated, as RFC 6479 keeps it: a ring of bitmap
// words, the newest number top.
type replay struct {
	top  uint64
	any  bool
	bits [replayWords]uint64
}

// seen reports whether seq was accepted before or is too old to tell.
func (r *replay) seen(seq uint64) bool {
	if !r.any || seq > r.top {
		return false
	}
	if r.top-seq >= ReplayWindow {
		return true
	}
	return r.bits[(seq/64)%replayWords]&(1<<(seq%64)) != 0
}

// mark records seq as accepted; seen(seq) must have been false.
func (r *replay) mark(seq uint64) {
	if !r.any {
		r.any, r.top = true, seq
	} else if seq > r.top {
		cur, next := r.top/64, seq/64
		// Clear the words the window slides over (at most all of them).
		for i, n := uint64(1), min(next-cur, replayWords); i <= n; i++ {
			r.bits[(cur+i)%replayWords] = 0
		}
		r.top = seq
	}
	r.bits[(seq/64)%replayWords] |= 1 << (seq % 64)
}
