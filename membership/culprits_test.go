package membership

import (
	"errors"
	"net/netip"
	"slices"
	"testing"
)

// TestCulprits: a JoinerError naming joiners of the round leaves out only
// those; one naming none, a non-joiner or a joiner twice, or another
// error, leaves out all of them.
func TestCulprits(t *testing.T) {
	e := func(i int) Endpoint {
		return Endpoint{Addr: netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), uint16(7000+i)), Inc: 1}
	}
	joiners := []Endpoint{e(1), e(2), e(3)}
	cases := []struct {
		err   error
		want  []Endpoint
		named bool
	}{
		{&JoinerError{Joiners: []Endpoint{e(2)}, Err: errors.New("x")}, []Endpoint{e(2)}, true},
		{&JoinerError{Joiners: []Endpoint{e(3), e(1)}}, []Endpoint{e(3), e(1)}, true},
		{&JoinerError{}, joiners, false},
		{&JoinerError{Joiners: []Endpoint{e(2), e(4)}}, joiners, false},
		{&JoinerError{Joiners: []Endpoint{e(2), e(2)}}, joiners, false},
		{&JoinerError{Joiners: []Endpoint{e(1), e(2), e(3), e(1)}}, joiners, false},
		{errors.New("other"), joiners, false},
		{errors.Join(errors.New("wrapped"), &JoinerError{Joiners: []Endpoint{e(1)}}), []Endpoint{e(1)}, true},
	}
	for i, c := range cases {
		got, named := culprits(c.err, joiners)
		if !slices.Equal(got, c.want) || named != c.named {
			t.Errorf("case %d: culprits = %v, %v; want %v, %v", i, got, named, c.want, c.named)
		}
	}
}
