package layers

// Keys is one view's key material, handed to the view's stack by whoever
// agreed on it (in a secure group, membership's participant, at the
// installation of the view) through Config.Keys.
//
// The stack does not look inside: a layer that needs keys (encrypt, sign)
// reads Port.Config().Keys in Init or later and type-asserts it to the
// concrete type it expects, dropping what it cannot protect if the
// assertion fails; layers that need none ignore it. A stack built without
// keys has a nil Keys.
//
// The stack owns the material from a successful New until the stack ends:
// it calls Release exactly once, at EndView or at Close, whichever comes
// first, after every layer has sealed its last datagram. Release should
// zero the secrets; nothing in the stack reads them afterwards. If New
// fails, the caller still owns the material and must release it.
type Keys interface {
	Release()
}

// release hands the stack's key material back, once.
func (s *Stack) release() {
	if s.cfg.Keys != nil && !s.released {
		s.released = true
		s.cfg.Keys.Release()
	}
}

// Close ends a stack that will not be used again without an orderly end
// of its view (a member that stops, a stack built and discarded): it
// releases the key material as EndView would and tells the layers nothing.
// Close after EndView, or twice, does nothing.
func (s *Stack) Close() { s.release() }
