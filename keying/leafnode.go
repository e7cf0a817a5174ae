package keying

import (
	"bytes"
	"errors"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Bounds on a leaf node's fields, checked before anything is sliced when a
// leaf node is decoded. The largest public key of any suite is X-Wing's
// (1216 bytes); the largest signature a P-521 ECDSA one (under 140 bytes).
const (
	MaxPublicKeyLen    = 2048
	MaxSignatureLen    = 256
	MaxIdentityLen     = 1024
	MaxCertificatesLen = 1 << 16
	MaxCapabilityLen   = 256 // bytes of each list in Capabilities
)

// Credential types (RFC 9420 §5.3).
const (
	CredentialBasic uint16 = 1
	CredentialX509  uint16 = 2
)

// LeafNodeSource says why a leaf node was made (RFC 9420 §7.2).
type LeafNodeSource uint8

// The leaf node sources.
const (
	SourceKeyPackage LeafNodeSource = 1
	SourceUpdate     LeafNodeSource = 2
	SourceCommit     LeafNodeSource = 3
)

// Errors of leaf node decoding and validation.
var (
	ErrLeafNode      = errors.New("keying: malformed leaf node")
	ErrLeafSignature = errors.New("keying: leaf node signature does not verify")
	ErrLeafSource    = errors.New("keying: leaf node has the wrong source")
)

// Credential is an MLS credential (RFC 9420 §5.3): a basic credential's
// identity, or an X.509 chain kept as opaque certificates.
type Credential struct {
	Type         uint16
	Identity     []byte   // basic
	Certificates [][]byte // x509
}

// Capabilities lists what a member supports (RFC 9420 §7.2).
type Capabilities struct {
	Versions, CipherSuites, Extensions, Proposals, Credentials []uint16
}

// Lifetime bounds a key package's leaf in seconds since the Unix epoch.
type Lifetime struct{ NotBefore, NotAfter uint64 }

// LeafNode is RFC 9420's LeafNode (§7.2):
//
//	struct {
//	    HPKEPublicKey encryption_key;
//	    SignaturePublicKey signature_key;
//	    Credential credential;
//	    Capabilities capabilities;
//	    LeafNodeSource leaf_node_source;
//	    select (leaf_node_source) {
//	        case key_package: Lifetime lifetime;
//	        case update:      struct{};
//	        case commit:      opaque parent_hash<V>;
//	    };
//	    Extension extensions<V>;
//	    opaque signature<V>;
//	} LeafNode;
type LeafNode struct {
	EncryptionKey []byte
	SignatureKey  []byte
	Credential    Credential
	Capabilities  Capabilities
	Source        LeafNodeSource
	Lifetime      Lifetime // SourceKeyPackage only
	ParentHash    []byte   // SourceCommit only
	Extensions    []Extension
	Signature     []byte
}

func encodeUint16s(w *mlsenc.Writer, l []uint16) {
	w.Vector(func(w *mlsenc.Writer) {
		for _, v := range l {
			w.Uint16(v)
		}
	})
}

func decodeUint16s(r *mlsenc.Reader) []uint16 {
	var l []uint16
	r.Vector(MaxCapabilityLen, func(b *mlsenc.Reader) {
		if b.Len()%2 != 0 {
			b.Fail(ErrLeafNode)
			return
		}
		l = make([]uint16, 0, b.Len()/2)
		for !b.Empty() {
			l = append(l, b.Uint16())
		}
	})
	return l
}

func encodeCredential(w *mlsenc.Writer, c *Credential) {
	w.Uint16(c.Type)
	switch c.Type {
	case CredentialBasic:
		w.Opaque(c.Identity)
	case CredentialX509:
		w.Vector(func(w *mlsenc.Writer) {
			for _, cert := range c.Certificates {
				w.Opaque(cert)
			}
		})
	}
}

func decodeCredential(r *mlsenc.Reader) Credential {
	c := Credential{Type: r.Uint16()}
	switch c.Type {
	case CredentialBasic:
		c.Identity = r.Opaque(MaxIdentityLen)
	case CredentialX509:
		c.Certificates = [][]byte{}
		r.Elements(MaxCertificatesLen, func(e *mlsenc.Reader) {
			c.Certificates = append(c.Certificates, e.Opaque(MaxCertificatesLen))
		})
	default:
		// Other credential types have no encoding this package can skip.
		r.Fail(ErrLeafNode)
	}
	return c
}

func encodeExtensions(w *mlsenc.Writer, exts []Extension) {
	w.Vector(func(w *mlsenc.Writer) {
		for _, e := range exts {
			w.Uint16(e.Type)
			w.Opaque(e.Data)
		}
	})
}

// encodeTBSBody writes the fields LeafNode and LeafNodeTBS share.
func (l *LeafNode) encodeTBSBody(w *mlsenc.Writer) {
	w.Opaque(l.EncryptionKey)
	w.Opaque(l.SignatureKey)
	encodeCredential(w, &l.Credential)
	encodeUint16s(w, l.Capabilities.Versions)
	encodeUint16s(w, l.Capabilities.CipherSuites)
	encodeUint16s(w, l.Capabilities.Extensions)
	encodeUint16s(w, l.Capabilities.Proposals)
	encodeUint16s(w, l.Capabilities.Credentials)
	w.Uint8(uint8(l.Source))
	switch l.Source {
	case SourceKeyPackage:
		w.Uint64(l.Lifetime.NotBefore)
		w.Uint64(l.Lifetime.NotAfter)
	case SourceCommit:
		w.Opaque(l.ParentHash)
	}
	encodeExtensions(w, l.Extensions)
}

// Encode appends the leaf node's encoding to w.
func (l *LeafNode) Encode(w *mlsenc.Writer) {
	l.encodeTBSBody(w)
	w.Opaque(l.Signature)
}

// Bytes is the leaf node's encoding.
func (l *LeafNode) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, l.sizeHint()))
	l.Encode(w)
	return w.Bytes()
}

// sizeHint bounds the length of the leaf node's encoding, so that encoding
// it allocates once: each length prefix takes at most 4 bytes.
func (l *LeafNode) sizeHint() int {
	c := &l.Capabilities
	n := 4 + len(l.EncryptionKey) + 4 + len(l.SignatureKey) +
		2 + 4 + len(l.Credential.Identity) + 4 + 4*len(l.Credential.Certificates) +
		5*4 + 2*(len(c.Versions)+len(c.CipherSuites)+len(c.Extensions)+len(c.Proposals)+len(c.Credentials)) +
		1 + 16 + 4 + len(l.ParentHash) + 4 + 4 + len(l.Signature)
	for _, cert := range l.Credential.Certificates {
		n += len(cert)
	}
	for _, e := range l.Extensions {
		n += 2 + 4 + len(e.Data)
	}
	return n
}

// tbs is LeafNodeTBS: the leaf node without its signature and, for update
// and commit leaves, bound to the group and the leaf's position.
func (l *LeafNode) tbs(groupID []byte, leaf uint32) ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, l.sizeHint()+4+len(groupID)+4))
	l.encodeTBSBody(w)
	if l.Source == SourceUpdate || l.Source == SourceCommit {
		w.Opaque(groupID)
		w.Uint32(leaf)
	}
	return w.Bytes()
}

// DecodeLeafNode reads a leaf node from r, strictly: known source and
// credential type, every length within its bound. Errors stick in r.
// Slices alias r's input.
func DecodeLeafNode(r *mlsenc.Reader) *LeafNode {
	l := &LeafNode{}
	l.EncryptionKey = r.Opaque(MaxPublicKeyLen)
	l.SignatureKey = r.Opaque(MaxPublicKeyLen)
	l.Credential = decodeCredential(r)
	l.Capabilities.Versions = decodeUint16s(r)
	l.Capabilities.CipherSuites = decodeUint16s(r)
	l.Capabilities.Extensions = decodeUint16s(r)
	l.Capabilities.Proposals = decodeUint16s(r)
	l.Capabilities.Credentials = decodeUint16s(r)
	l.Source = LeafNodeSource(r.Uint8())
	switch l.Source {
	case SourceKeyPackage:
		l.Lifetime.NotBefore = r.Uint64()
		l.Lifetime.NotAfter = r.Uint64()
	case SourceUpdate:
	case SourceCommit:
		l.ParentHash = r.Opaque(MaxHashLen)
	default:
		r.Fail(ErrLeafNode)
	}
	l.Extensions = DecodeExtensions(r)
	l.Signature = r.Opaque(MaxSignatureLen)
	if r.Err() != nil {
		return nil
	}
	return l
}

// ParseLeafNode decodes a whole leaf node, refusing trailing bytes.
func ParseLeafNode(b []byte) (*LeafNode, error) {
	r := mlsenc.NewReader(b)
	l := DecodeLeafNode(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return l, nil
}

// Sign sets the leaf node's signature: SignWithLabel("LeafNodeTBS") over
// LeafNodeTBS. groupID and leaf are ignored for a key package leaf.
func (l *LeafNode) Sign(s *crypto.Suite, key *crypto.SigningKey, groupID []byte, leaf uint32) error {
	tbs, err := l.tbs(groupID, leaf)
	if err != nil {
		return err
	}
	sig, err := s.SignWithLabel(key, "LeafNodeTBS", tbs)
	if err != nil {
		return err
	}
	l.Signature = sig
	return nil
}

// Verify checks the leaf node's signature with its own signature key, and
// that its credential is one the node says it supports (RFC 9420 §7.3).
// RFC 9420 does not ask that the capabilities name the group's suite, and
// the interop vectors' P-384 leaves list suites 1 to 6 only.
// Lifetimes are not checked: keying reads no clock, so the caller compares
// them with its own time.
func (l *LeafNode) Verify(s *crypto.Suite, groupID []byte, leaf uint32) error {
	tbs, err := l.tbs(groupID, leaf)
	if err != nil {
		return ErrLeafNode
	}
	if err := s.VerifyWithLabel(l.SignatureKey, "LeafNodeTBS", tbs, l.Signature); err != nil {
		return ErrLeafSignature
	}
	if !hasUint16(l.Capabilities.Credentials, l.Credential.Type) {
		return ErrLeafNode
	}
	return nil
}

func hasUint16(l []uint16, v uint16) bool {
	for _, x := range l {
		if x == v {
			return true
		}
	}
	return false
}

// clone returns a deep copy, so a tree owns its leaves apart from the
// buffers they were decoded from.
func (l *LeafNode) clone() *LeafNode {
	c := *l
	cp := func(b []byte) []byte {
		if b == nil {
			return nil
		}
		return bytes.Clone(b)
	}
	c.EncryptionKey = cp(l.EncryptionKey)
	c.SignatureKey = cp(l.SignatureKey)
	c.Credential.Identity = cp(l.Credential.Identity)
	if l.Credential.Certificates != nil {
		c.Credential.Certificates = make([][]byte, len(l.Credential.Certificates))
		for i, x := range l.Credential.Certificates {
			c.Credential.Certificates[i] = cp(x)
		}
	}
	c.ParentHash = cp(l.ParentHash)
	c.Signature = cp(l.Signature)
	if l.Extensions != nil {
		c.Extensions = make([]Extension, len(l.Extensions))
		for i, e := range l.Extensions {
			c.Extensions[i] = Extension{Type: e.Type, Data: cp(e.Data)}
		}
	}
	return &c
}

// DefaultCapabilities is what a Conclave member supports: MLS 1.0, the given
// suite, basic credentials, and the add, update and remove proposals.
func DefaultCapabilities(suite crypto.SuiteID) Capabilities {
	return Capabilities{
		Versions:     []uint16{ProtocolVersionMLS10},
		CipherSuites: []uint16{uint16(suite)},
		Extensions:   []uint16{},
		Proposals:    []uint16{},
		Credentials:  []uint16{CredentialBasic},
	}
}
