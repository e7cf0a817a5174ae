package keying

import (
	"bytes"
	"errors"
	"testing"

	"github.com/conclave-go/conclave/internal/mlsenc"
)

func TestConclaveContextRoundTrip(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 9, "alpha", "beta", "gamma")
	b, err := gc.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseGroupContext(b)
	if err != nil || !back.Equal(&gc) {
		t.Fatalf("group context round trip: %v", err)
	}
	cc, ok, err := back.ConclaveContext()
	if err != nil || !ok || len(cc.Members) != 3 || string(cc.Members[1]) != "beta" || !bytes.Equal(cc.ViewID, []byte{1, 2, 3}) {
		t.Fatalf("conclave context = %+v, %v, %v", cc, ok, err)
	}
	var plain GroupContext
	if _, ok, _ := plain.ConclaveContext(); ok {
		t.Fatal("conclave context found in a group context without one")
	}
}

func TestGroupContextStrict(t *testing.T) {
	s := allSuites(t)[0]
	gc := testGroupContext(s, 1, "a")
	good, _ := gc.Bytes()
	if _, err := ParseGroupContext(append(bytes.Clone(good), 0)); !errors.Is(err, mlsenc.ErrTrailing) {
		t.Errorf("trailing byte: %v", err)
	}
	bad := bytes.Clone(good)
	bad[1] = 2 // version mls10 is 0x0001
	if _, err := ParseGroupContext(bad); !errors.Is(err, ErrGroupContext) {
		t.Errorf("wrong version: %v", err)
	}
	dup := gc
	dup.Extensions = append([]Extension{}, gc.Extensions...)
	dup.Extensions = append(dup.Extensions, Extension{Type: ExtensionTypeConclaveContext, Data: nil})
	b, _ := dup.Bytes()
	if _, err := ParseGroupContext(b); !errors.Is(err, ErrDuplicateExtension) {
		t.Errorf("duplicate extension: %v", err)
	}
	long := gc
	long.GroupID = make([]byte, MaxGroupIDLen+1)
	b, _ = long.Bytes()
	if _, err := ParseGroupContext(b); !errors.Is(err, mlsenc.ErrTooLarge) {
		t.Errorf("long group id: %v", err)
	}
}

func TestConclaveContextStrict(t *testing.T) {
	cc := ConclaveContext{ViewID: []byte{1}, Members: [][]byte{[]byte("a")}, PolicyHash: []byte{2}}
	good, _ := cc.Bytes()
	if _, err := ParseConclaveContext(append(bytes.Clone(good), 0)); err == nil {
		t.Error("trailing byte accepted")
	}
	bad := bytes.Clone(good)
	bad[0] = 2
	if _, err := ParseConclaveContext(bad); !errors.Is(err, ErrConclaveContext) {
		t.Errorf("unknown version: %v", err)
	}
	long := ConclaveContext{Members: [][]byte{make([]byte, MaxMemberIDLen+1)}}
	b, _ := long.Bytes()
	if _, err := ParseConclaveContext(b); !errors.Is(err, mlsenc.ErrTooLarge) {
		t.Errorf("long member id: %v", err)
	}
	// One member too many, each empty: refused by count.
	many := ConclaveContext{Members: make([][]byte, MaxMembers)}
	b, err := many.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseConclaveContext(b); err != nil {
		t.Fatalf("MaxMembers members refused: %v", err)
	}
	w := mlsenc.NewWriter(nil)
	w.Uint8(conclaveContextVersion)
	w.Opaque(nil)
	w.Vector(func(w *mlsenc.Writer) {
		for range MaxMembers + 1 {
			w.Opaque(nil)
		}
	})
	w.Opaque(nil)
	b, _ = w.Bytes()
	if _, err := ParseConclaveContext(b); !errors.Is(err, ErrConclaveContext) {
		t.Errorf("MaxMembers+1 members: %v", err)
	}
}

// FuzzParseGroupContext: whatever parses re-encodes to exactly the input.
func FuzzParseGroupContext(f *testing.F) {
	s, _ := lookupTestSuite()
	gc := testGroupContext(s, 3, "a", "b")
	b, _ := gc.Bytes()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		g, err := ParseGroupContext(in)
		if err != nil {
			return
		}
		out, err := g.Bytes()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip changed the encoding: %v", err)
		}
	})
}

// FuzzParseConclaveContext: whatever parses re-encodes to exactly the input.
func FuzzParseConclaveContext(f *testing.F) {
	cc := ConclaveContext{ViewID: []byte{1}, Members: [][]byte{[]byte("a"), nil}, PolicyHash: []byte{2}}
	b, _ := cc.Bytes()
	f.Add(b)
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := ParseConclaveContext(in)
		if err != nil {
			return
		}
		out, err := c.Bytes()
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip changed the encoding: %v", err)
		}
	})
}
