package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// jsonLine is a line of member --json output.
type jsonLine struct {
	Type       string
	Self       string
	Identity   string
	Members    []string
	Epoch      *uint64
	Identities []string
	Reason     string
}

func parseJSONLine(t *testing.T, s string) jsonLine {
	t.Helper()
	var l jsonLine
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		t.Fatalf("line %q: %v", s, err)
	}
	return l
}

// TestSecuredMembers runs two secured members with Noise keys and one
// allow list, and a third whose key is not on it: the two form a view
// whose line names its epoch and both identities, each view is followed by
// its key line, and the stranger never enters a view with them.
func TestSecuredMembers(t *testing.T) {
	dir := t.TempDir()
	keyA, pubA := newKeyFile(t, dir, "a.key", 0o600)
	keyB, pubB := newKeyFile(t, dir, "b.key", 0o600)
	keyS, pubS := newKeyFile(t, dir, "stranger.key", 0o600)
	allow := filepath.Join(dir, "allowed")
	if err := os.WriteFile(allow, []byte(pubA.String()+"\n"+pubB.String()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	secured := func(key string, seeds ...string) memberFlags {
		f := memberDefaults("127.0.0.1:0", seeds...)
		f.json = true
		f.credentialFlags = credentialFlags{noiseKey: key, allowFiles: []string{allow}}
		return f
	}
	aOut, _ := startMember(t, secured(keyA))
	ready := parseJSONLine(t, aOut.await(t, "ready line", func(string) bool { return true }))
	if ready.Type != "ready" || ready.Identity != pubA.String() {
		t.Fatalf("ready line %+v, want identity %v", ready, pubA)
	}
	addr, _, _ := strings.Cut(ready.Self, "#")

	// The stranger, with its own key on its own list (so that only the
	// group's check keeps it out), starts first and keeps trying.
	sf := secured(keyS, addr)
	sf.allowFiles, sf.allow = nil, []string{pubS.String(), pubA.String()}
	sOut, _ := startMember(t, sf)
	bOut, _ := startMember(t, secured(keyB, addr))

	isView := func(n int) func(string) bool {
		return func(s string) bool {
			l := parseJSONLine(t, s)
			return l.Type == "view" && len(l.Members) == n
		}
	}
	for _, out := range []*lines{aOut, bOut} {
		v := parseJSONLine(t, out.await(t, "view of two", isView(2)))
		ids := slices.Clone(v.Identities)
		slices.Sort(ids)
		want := []string{pubA.String(), pubB.String()}
		slices.Sort(want)
		if v.Epoch == nil || *v.Epoch == 0 || !slices.Equal(ids, want) || len(v.Members) != 2 {
			t.Fatalf("view line %+v: want an epoch and the identities %v", v, want)
		}
		k := parseJSONLine(t, out.await(t, "key line", func(string) bool { return true }))
		if k.Type != "key" || k.Epoch == nil || *k.Epoch != *v.Epoch || (k.Reason != "join" && k.Reason != "merge") {
			t.Fatalf("after the view %+v, line %+v: want its key line with reason join or merge", v, k)
		}
	}
	// The stranger's own views hold only itself, however long the group
	// has had to take it in: give it several retries.
	deadline := time.After(3 * time.Second)
	for {
		select {
		case s := <-sOut.each:
			if l := parseJSONLine(t, s); l.Type == "view" && len(l.Members) != 1 {
				t.Fatalf("the stranger entered a view: %s", s)
			}
			continue
		case <-deadline:
		}
		break
	}
	if strings.Contains(aOut.String(), ":"+strings.TrimPrefix(pubS.String(), "noise:")) ||
		strings.Contains(bOut.String(), strings.TrimPrefix(pubS.String(), "noise:")) {
		t.Errorf("a member's output names the stranger's key")
	}
}
