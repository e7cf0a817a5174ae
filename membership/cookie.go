package membership

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"net/netip"
	"time"
)

// A cookie proves that an address receives: a member issues one for an
// address only in a datagram sent to that address, and later accepts it
// back from that address alone. Cookies are stateless, as in DTLS and
// QUIC's Retry: a cookie is a MAC, under a secret of the issuing member,
// of the address and a coarse time bucket, so checking one needs no
// record of having issued it.
//
//	cookie = bucket mod 256 (1 byte) ‖ HMAC-SHA256(secret[bucket],
//	         "conclave cookie\x00" ‖ group ‖ bucket ‖ address ‖ port)[:16]
//
// The bucket is the member's clock divided by CookieBucket. Each bucket has
// its own secret, drawn at random when the bucket begins; a member keeps
// the secrets of the current bucket and the one before, so a cookie is
// accepted until the end of the bucket after the one it was issued in:
// for at least CookieBucket and less than 2×CookieBucket. Older secrets are
// discarded (rotation), so an expired cookie cannot be checked, let alone
// accepted. Tags are compared in constant time.
//
// Probes carry cookies both ways: a Probe carries the prober's cookie for
// the address it is sent to (a challenge that only the real owner of that
// address can echo back), and every answer echoes it and adds the
// answerer's own cookie for the prober. Merges are built on this (merge.go),
// and so can any later exchange that must first prove a peer's address.

// CookieBucket is the coarse time bucket of cookies: a cookie is accepted
// for at least this long after it is issued and never for twice as long.
const CookieBucket = 10 * time.Second

// cookieLen is the length of a cookie on the wire.
const cookieLen = 1 + cookieTagLen

// cookieTagLen is the length of the truncated MAC. 128 bits leave a forger
// no chance within a cookie's life.
const cookieTagLen = 16

// cookieJar issues and checks this member's cookies.
type cookieJar struct {
	rand   io.Reader
	group  uint64
	bucket uint64    // the bucket secrets[0] belongs to
	secret [2][]byte // secrets of bucket and bucket-1 (nil: none)
}

func newCookieJar(rand io.Reader, group uint64) cookieJar {
	return cookieJar{rand: rand, group: group}
}

// rotate brings the secrets up to the bucket of now.
func (j *cookieJar) rotate(now time.Duration) error {
	b := uint64(max(now, 0) / CookieBucket)
	if j.secret[0] != nil && b == j.bucket {
		return nil
	}
	fresh := make([]byte, 32)
	if _, err := io.ReadFull(j.rand, fresh); err != nil {
		return err
	}
	if j.secret[0] != nil && b == j.bucket+1 {
		j.secret[1] = j.secret[0]
	} else {
		j.secret[1] = nil
	}
	j.secret[0], j.bucket = fresh, b
	return nil
}

// issue returns a cookie for addr, appended to dst, or nil when no secret
// could be drawn.
func (j *cookieJar) issue(dst []byte, addr netip.AddrPort, now time.Duration) []byte {
	if j.rotate(now) != nil {
		return nil
	}
	dst = append(dst, byte(j.bucket))
	return append(dst, j.tag(j.secret[0], j.bucket, addr)...)
}

// verify reports whether c is a cookie this member issued for addr and
// that has not expired.
func (j *cookieJar) verify(c []byte, addr netip.AddrPort, now time.Duration) bool {
	if len(c) != cookieLen || j.rotate(now) != nil {
		return false
	}
	var bucket uint64
	var secret []byte
	switch c[0] {
	case byte(j.bucket):
		bucket, secret = j.bucket, j.secret[0]
	case byte(j.bucket - 1):
		bucket, secret = j.bucket-1, j.secret[1]
	}
	if secret == nil {
		return false
	}
	return hmac.Equal(c[1:], j.tag(secret, bucket, addr))
}

func (j *cookieJar) tag(secret []byte, bucket uint64, addr netip.AddrPort) []byte {
	mac := hmac.New(sha256.New, secret)
	var b [16 + 8 + 8 + 16 + 2]byte
	copy(b[:], "conclave cookie\x00")
	binary.BigEndian.PutUint64(b[16:], j.group)
	binary.BigEndian.PutUint64(b[24:], bucket)
	a := addr.Addr().Unmap().As16()
	copy(b[32:], a[:])
	binary.BigEndian.PutUint16(b[48:], addr.Port())
	mac.Write(b[:])
	return mac.Sum(nil)[:cookieTagLen]
}
