package private_test

import (
	"testing"

	"github.com/conclave-go/conclave/crypto"
)

// suitesOffered lists the suites this build implements.
func suitesOffered(t testing.TB) []crypto.SuiteID {
	var ids []crypto.SuiteID
	for _, id := range crypto.Suites() {
		if _, err := crypto.LookupSuite(id); err == nil {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		t.Fatal("no suite")
	}
	return ids
}
