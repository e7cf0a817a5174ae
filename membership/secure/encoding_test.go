package secure

import (
	"bytes"
	"net/netip"
	"testing"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/membership"
)

func testRoster() []rosterEntry {
	var entries []rosterEntry
	for i, a := range []string{"127.0.0.1:1", "[::1]:2", "[fe80::1%eth0]:3"} {
		e := membership.Endpoint{Addr: netip.MustParseAddrPort(a), Inc: uint32(i)}
		b, err := endpointBytes(e)
		if err != nil {
			panic(err)
		}
		entries = append(entries, rosterEntry{endpoint: b, identity: auth.Identity{Provider: "noise", Name: "n" + a}, sigKey: []byte{byte(i), 1, 2}})
	}
	return entries
}

// A roster decodes to what was encoded, and every decoded roster encodes
// back to exactly its input: one encoding per roster, nothing trailing.
func TestRosterRoundTrip(t *testing.T) {
	entries := testRoster()
	b, err := appendRoster(nil, entries)
	if err != nil {
		t.Fatal(err)
	}
	got, err := parseRoster(b)
	if err != nil || len(got) != len(entries) {
		t.Fatalf("%v, %d entries", err, len(got))
	}
	for i := range got {
		if !bytes.Equal(got[i].endpoint, entries[i].endpoint) || got[i].identity.Name != entries[i].identity.Name || !bytes.Equal(got[i].sigKey, entries[i].sigKey) {
			t.Fatalf("entry %d differs", i)
		}
	}
	for _, bad := range [][]byte{
		append(b, 0),                   // trailing
		b[:len(b)-1],                   // short
		{0xff, 0xff, 0xff, 0xff, 0x0f}, // a count no bytes could hold
	} {
		if _, err := parseRoster(bad); err == nil {
			t.Errorf("roster %x accepted", bad)
		}
	}
	dup, _ := appendRoster(nil, []rosterEntry{entries[0], entries[0]})
	if _, err := parseRoster(dup); err == nil {
		t.Error("a roster naming an endpoint twice accepted")
	}
}

// Endpoints with different addresses, ports, zones or incarnations never
// share an encoding.
func TestEndpointBytesInjective(t *testing.T) {
	seen := map[string]membership.Endpoint{}
	for _, a := range []string{"127.0.0.1:1", "127.0.0.1:2", "[::ffff:127.0.0.1]:1", "[::1]:1", "[fe80::1%a]:1", "[fe80::1%b]:1", "[fe80::1]:1"} {
		for inc := range uint32(2) {
			e := membership.Endpoint{Addr: netip.MustParseAddrPort(a), Inc: inc}
			b, err := endpointBytes(e)
			if err != nil {
				t.Fatal(err)
			}
			if o, ok := seen[string(b)]; ok {
				t.Fatalf("%v and %v share an encoding", o, e)
			}
			seen[string(b)] = e
		}
	}
}

func FuzzParseRoster(f *testing.F) {
	b, _ := appendRoster(nil, testRoster())
	f.Add(b)
	f.Add([]byte{0})
	f.Fuzz(func(t *testing.T, b []byte) {
		entries, err := parseRoster(b)
		if err != nil {
			return
		}
		again, err := appendRoster(nil, entries)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("roster %x re-encodes as %x (%v)", b, again, err)
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	b, _ := identityBytes("noise", "AAAA")
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := parseIdentity(b)
		if err != nil {
			return
		}
		again, err := identityBytes(id.Provider, id.Name)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("identity %x re-encodes as %x (%v)", b, again, err)
		}
	})
}
