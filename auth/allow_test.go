package auth

import (
	"errors"
	"testing"
)

func TestAllow(t *testing.T) {
	a := Identity{Provider: "noise", Name: "AAAA", Fingerprint: "1a2b:3c4d:5e6f:7a8b"}
	b := Identity{Provider: "noise", Name: "BBBB"}
	// A name without a provider admits nobody.
	names := []string{"noise:AAAA", "AAAA", ""}
	admit := Allow(names...)
	names[0] = "noise:BBBB" // the list is copied
	if err := admit(a); err != nil {
		t.Errorf("allowed identity refused: %v", err)
	}
	err := admit(b)
	if !errors.Is(err, ErrNotAllowed) || err.Error() != "auth: noise:BBBB is not on the allow list" {
		t.Errorf("identity not on the list: %v", err)
	}
	for _, id := range []Identity{
		{Provider: "other", Name: "AAAA"},  // another provider, the same name
		{Provider: "noise", Name: "AAA"},   // a prefix
		{Provider: "noise", Name: "aaaa"},  // another case
		{Provider: "noise:AAAA"},           // the whole text as a provider
		{Provider: "noi", Name: "se:AAAA"}, // the same text, cut elsewhere
		{},
	} {
		if admit(id) == nil {
			t.Errorf("%+v admitted by an allow list of noise:AAAA", id)
		}
	}
	if err := Allow()(a); err == nil || err.Error() != "auth: noise:AAAA (fingerprint 1a2b:3c4d:5e6f:7a8b) is not on the allow list" {
		t.Errorf("empty allow list: %v", err)
	}
}
