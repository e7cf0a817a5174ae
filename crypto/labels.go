package crypto

import (
	"encoding/binary"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

// labelPrefix starts every MLS label (RFC 9420 §5.1.2, §5.1.3, §5.1.4).
const labelPrefix = "MLS 1.0 "

// ExpandWithLabel is RFC 9420 §5.1.3:
//
//	KDFLabel = struct {
//	    uint16 length;
//	    opaque label<V> = "MLS 1.0 " + Label;
//	    opaque context<V>;
//	}
//	ExpandWithLabel(Secret, Label, Context, Length) =
//	    KDF.Expand(Secret, KDFLabel, Length)
//
// length must fit in a uint16 and be at most 255 hash sizes.
func (s *Suite) ExpandWithLabel(secret Secret, label string, context []byte, length int) (Secret, error) {
	if length < 0 || length > 0xffff {
		return nil, ErrLength
	}
	w := mlsenc.NewWriter(make([]byte, 0, 2+1+len(labelPrefix)+len(label)+4+len(context)))
	w.Uint16(uint16(length))
	w.Varint(uint64(len(labelPrefix) + len(label)))
	w.Raw([]byte(labelPrefix))
	w.Raw([]byte(label))
	w.Opaque(context)
	info, err := w.Bytes()
	if err != nil {
		return nil, ErrLength
	}
	return s.Expand(secret, info, length)
}

// DeriveSecret is RFC 9420 §5.1.3:
// ExpandWithLabel(Secret, Label, "", KDF.Nh).
func (s *Suite) DeriveSecret(secret Secret, label string) Secret {
	out, err := s.ExpandWithLabel(secret, label, nil, s.hashSize)
	if err != nil {
		// Nh is always a valid length.
		panic("crypto: DeriveSecret: " + err.Error())
	}
	return out
}

// DeriveTreeSecret is RFC 9420 §9:
// ExpandWithLabel(Secret, Label, uint32(Generation), Length).
func (s *Suite) DeriveTreeSecret(secret Secret, label string, generation uint32, length int) (Secret, error) {
	var ctx [4]byte
	binary.BigEndian.PutUint32(ctx[:], generation)
	return s.ExpandWithLabel(secret, label, ctx[:], length)
}

// RefHash is RFC 9420 §5.2:
//
//	RefHashInput = struct {
//	    opaque label<V> = Label;
//	    opaque value<V> = Value;
//	}
//	RefHash(Label, Value) = Hash(RefHashInput)
//
// The label is used as given: callers pass the whole label, such as
// "MLS 1.0 KeyPackage Reference".
func (s *Suite) RefHash(label string, value []byte) ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, 8+len(label)+len(value)))
	w.Opaque([]byte(label))
	w.Opaque(value)
	in, err := w.Bytes()
	if err != nil {
		return nil, err
	}
	return s.Hash(in), nil
}

// labelled encodes the struct shared by SignContent and EncryptContext
// (RFC 9420 §5.1.2, §5.1.4): opaque label<V> = "MLS 1.0 " + Label, then
// opaque content<V>.
func labelled(label string, content []byte) ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, 8+len(labelPrefix)+len(label)+len(content)))
	w.Varint(uint64(len(labelPrefix) + len(label)))
	w.Raw([]byte(labelPrefix))
	w.Raw([]byte(label))
	w.Opaque(content)
	return w.Bytes()
}
