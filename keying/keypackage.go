package keying

import (
	"bytes"
	"errors"
	"io"
	"sync/atomic"

	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/internal/mlsenc"
)

// Errors of key packages.
var (
	ErrKeyPackage          = errors.New("keying: malformed key package")
	ErrKeyPackageSignature = errors.New("keying: key package signature does not verify")
	ErrKeyPackageSuite     = errors.New("keying: key package is for another suite or version")
	ErrInitKeyReuse        = errors.New("keying: key package init key equals its leaf key")
)

// KeyPackage is RFC 9420's KeyPackage (§10): what a joiner publishes so that
// a member can add it. The init key, distinct from the leaf's encryption
// key, is what a welcome is encrypted to.
//
//	struct {
//	    ProtocolVersion version;
//	    CipherSuite cipher_suite;
//	    HPKEPublicKey init_key;
//	    LeafNode leaf_node;
//	    Extension extensions<V>;
//	    opaque signature<V>;
//	} KeyPackage;
type KeyPackage struct {
	Version    uint16
	Suite      crypto.SuiteID
	InitKey    []byte
	Leaf       *LeafNode
	Extensions []Extension
	Signature  []byte

	// verified is the encoding for which Verify last succeeded. Verify's
	// outcome depends on the encoding and the suite alone, and a member
	// that checks a joiner's key package when it admits it checks it again
	// when its commit adds it: the second time costs an encoding and a
	// comparison instead of two signature verifications.
	verified atomic.Pointer[[]byte]
}

func (k *KeyPackage) encodeTBS(w *mlsenc.Writer) {
	w.Uint16(k.Version)
	w.Uint16(uint16(k.Suite))
	w.Opaque(k.InitKey)
	k.Leaf.Encode(w)
	encodeExtensions(w, k.Extensions)
}

// Encode appends the key package's encoding to w.
func (k *KeyPackage) Encode(w *mlsenc.Writer) {
	k.encodeTBS(w)
	w.Opaque(k.Signature)
}

// sizeHint bounds the length of the key package's encoding, so that
// encoding it allocates once: each length prefix takes at most 4 bytes.
func (k *KeyPackage) sizeHint() int {
	n := 2 + 2 + 4 + len(k.InitKey) + 4 + 4 + len(k.Signature)
	if k.Leaf != nil {
		n += k.Leaf.sizeHint()
	}
	for _, e := range k.Extensions {
		n += 2 + 4 + len(e.Data)
	}
	return n
}

// Bytes is the key package's encoding.
func (k *KeyPackage) Bytes() ([]byte, error) {
	w := mlsenc.NewWriter(make([]byte, 0, k.sizeHint()))
	k.Encode(w)
	return w.Bytes()
}

// DecodeKeyPackage reads a key package from r with bounded lengths. Errors
// stick in r; slices alias r's input.
func DecodeKeyPackage(r *mlsenc.Reader) *KeyPackage {
	k := &KeyPackage{
		Version: r.Uint16(),
		Suite:   crypto.SuiteID(r.Uint16()),
		InitKey: r.Opaque(MaxPublicKeyLen),
		Leaf:    DecodeLeafNode(r),
	}
	k.Extensions = DecodeExtensions(r)
	k.Signature = r.Opaque(MaxSignatureLen)
	if r.Err() != nil {
		return nil
	}
	return k
}

// ParseKeyPackage decodes a whole key package, refusing trailing bytes.
func ParseKeyPackage(b []byte) (*KeyPackage, error) {
	r := mlsenc.NewReader(b)
	k := DecodeKeyPackage(r)
	if err := r.Done(); err != nil {
		return nil, err
	}
	return k, nil
}

// Ref is the key package's reference (RFC 9420 §5.2): RefHash("MLS 1.0
// KeyPackage Reference", KeyPackage).
func (k *KeyPackage) Ref(s *crypto.Suite) ([]byte, error) {
	b, err := k.Bytes()
	if err != nil {
		return nil, err
	}
	return s.RefHash("MLS 1.0 KeyPackage Reference", b)
}

// Verify checks a key package as RFC 9420 §10.1 asks: version and suite,
// a key-package leaf with a valid signature, a
// valid signature over the package by the leaf's key, and an init key
// that parses and differs from the leaf's encryption key. A key package
// verified before and unchanged since (the same encoding, the same suite)
// is not verified again. Verify is safe for concurrent use.
func (k *KeyPackage) Verify(s *crypto.Suite) error {
	var enc []byte
	if k.Leaf != nil {
		enc, _ = k.Bytes()
	}
	if v := k.verified.Load(); v != nil && enc != nil && k.Suite == s.ID() && bytes.Equal(*v, enc) {
		return nil
	}
	if err := k.verify(s); err != nil {
		return err
	}
	if enc != nil {
		k.verified.Store(&enc)
	}
	return nil
}

// verify is Verify without the record of an earlier success.
func (k *KeyPackage) verify(s *crypto.Suite) error {
	if k.Version != ProtocolVersionMLS10 || k.Suite != s.ID() {
		return ErrKeyPackageSuite
	}
	if k.Leaf.Source != SourceKeyPackage {
		return ErrLeafSource
	}
	if err := k.Leaf.Verify(s, nil, 0); err != nil {
		return err
	}
	if bytes.Equal(k.InitKey, k.Leaf.EncryptionKey) {
		return ErrInitKeyReuse
	}
	if _, err := s.ParseKEMPublicKey(k.InitKey); err != nil {
		return err
	}
	if _, err := s.ParseKEMPublicKey(k.Leaf.EncryptionKey); err != nil {
		return err
	}
	w := mlsenc.NewWriter(make([]byte, 0, k.sizeHint()))
	k.encodeTBS(w)
	tbs, err := w.Bytes()
	if err != nil {
		return ErrKeyPackage
	}
	if err := s.VerifyWithLabel(k.Leaf.SignatureKey, "KeyPackageTBS", tbs, k.Signature); err != nil {
		return ErrKeyPackageSignature
	}
	return nil
}

// KeyPackageSecrets are the private keys behind a key package: the init
// key a welcome is encrypted to, the leaf's encryption key and its
// signing key. They never print.
type KeyPackageSecrets struct {
	Init, Leaf *crypto.KEMPrivateKey
	Signing    *crypto.SigningKey
}

// DestroyInit drops the key a joiner no longer needs: the init key once the
// welcome is opened (RFC 9420 §16.8). The leaf and signing keys pass into
// the member's state.
func (k *KeyPackageSecrets) DestroyInit() {
	if k.Init != nil {
		k.Init.Destroy()
		k.Init = nil
	}
}

// NewKeyPackage makes a signed key package for a member with identity and
// signing key sig, with fresh init and leaf keys drawn from rand. lifetime
// is copied into the leaf as given (keying reads no clock).
func NewKeyPackage(s *crypto.Suite, identity []byte, sig *crypto.SigningKey, lifetime Lifetime, rand io.Reader) (*KeyPackage, *KeyPackageSecrets, error) {
	initKey, err := s.GenerateKeyPair(rand)
	if err != nil {
		return nil, nil, err
	}
	leafKey, err := s.GenerateKeyPair(rand)
	if err != nil {
		initKey.Destroy()
		return nil, nil, err
	}
	leaf := &LeafNode{
		EncryptionKey: bytes.Clone(leafKey.PublicKey().Bytes()),
		SignatureKey:  bytes.Clone(sig.PublicKey()),
		Credential:    Credential{Type: CredentialBasic, Identity: bytes.Clone(identity)},
		Capabilities:  DefaultCapabilities(s.ID()),
		Source:        SourceKeyPackage,
		Lifetime:      lifetime,
		Extensions:    []Extension{},
	}
	kp := &KeyPackage{Version: ProtocolVersionMLS10, Suite: s.ID(), InitKey: bytes.Clone(initKey.PublicKey().Bytes()), Leaf: leaf, Extensions: []Extension{}}
	err = leaf.Sign(s, sig, nil, 0)
	var tbs []byte
	if err == nil {
		w := mlsenc.NewWriter(nil)
		kp.encodeTBS(w)
		tbs, err = w.Bytes()
	}
	if err == nil {
		kp.Signature, err = s.SignWithLabel(sig, "KeyPackageTBS", tbs)
	}
	if err != nil {
		initKey.Destroy()
		leafKey.Destroy()
		return nil, nil, err
	}
	return kp, &KeyPackageSecrets{Init: initKey, Leaf: leafKey, Signing: sig}, nil
}
