package conclave

import (
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"time"

	"github.com/conclave-go/conclave/membership"
)

// A member finds its group through its seeds, and one that finds none looks,
// from inside, exactly like the first member of a new group: alone in a
// view of its own, with nothing wrong. The two mistakes behind most such
// silences are caught here: a seed that is the member's own address is
// refused at Join, and a member still alone after Config.SeedWait says so.
// In a secured group a third is told apart: the seed answered, the member
// ran an admission handshake with the group, and no view took it in, which
// is what a refusal looks like from the refused side; a coordinator that
// refused the member after their handshake says so, and why, and the
// warning gives its reason.

// checkSeeds refuses a seed equal to the member's own address.
func checkSeeds(seeds []netip.AddrPort, self netip.AddrPort) error {
	self = unmap(self)
	for _, s := range seeds {
		if unmap(s) == self {
			return fmt.Errorf("conclave: config: seed %v is this member's own address; give the addresses of other members (none starts a new group)", s)
		}
	}
	return nil
}

func unmap(a netip.AddrPort) netip.AddrPort {
	return netip.AddrPortFrom(a.Addr().Unmap(), a.Port())
}

// seedWatch warns once when a member that has seeds is still alone in its
// view a while after it started. A view with another member in it is the
// answer: from then on the watch is off for good, since a member that later
// finds itself alone again has lost its group, which failure detection
// reports, rather than never found it.
type seedWatch struct {
	deadline time.Duration // since the start; 0: off
	seeds    []netip.AddrPort
	group    string
	identity string // this member's, in a secured group: what the group refused
	logger   *slog.Logger
}

func newSeedWatch(cfg *Config) seedWatch {
	if len(cfg.Seeds) == 0 || cfg.SeedWait < 0 {
		return seedWatch{}
	}
	w := seedWatch{deadline: cfg.SeedWait, seeds: cfg.Seeds, group: cfg.Group, logger: cfg.Logger}
	if cfg.Credential != nil {
		w.identity = cfg.Credential.Identity().String()
	}
	return w
}

// view notes a view the member installed.
func (w *seedWatch) view(members int) {
	if members > 1 {
		w.deadline = 0
	}
}

// tick warns if the time now since the member's start is past the deadline.
// admitted says whether the member ran an admission handshake with a
// group that never took it in, refused whether a group's coordinator told
// it that it refused it, and why; they are asked only then.
func (w *seedWatch) tick(now time.Duration, admitted func() bool, refused func() (membership.Refusal, bool)) {
	if w.deadline == 0 || now < w.deadline {
		return
	}
	addrs := make([]string, len(w.seeds))
	for i, s := range w.seeds {
		addrs[i] = s.String()
	}
	var r membership.Refusal
	var wasRefused bool
	if refused != nil {
		r, wasRefused = refused()
	}
	switch {
	case wasRefused:
		// The coordinator's own words: its admission check's error.
		w.logger.Warn("a group refused this member", "after", w.deadline, "group", w.group, "identity", w.identity,
			"coordinator", r.Coordinator, "coordinator_identity", r.CoordinatorIdentity, "reason", r.Reason,
			"hint", "add this member's key to the allow list of the group's members (and the group's keys to this member's)")
	case admitted != nil && admitted():
		w.logger.Warn("a group answered but did not take this member in", "after", w.deadline, "seeds", strings.Join(addrs, " "), "group", w.group,
			"identity", w.identity,
			"hint", "is this member's key on the group's allow list, and the group's keys on this member's? a member that refuses a key logs \"peer refused\" at debug level, with the key and the reason")
	default:
		w.logger.Warn("no seed has answered", "after", w.deadline, "seeds", strings.Join(addrs, " "), "group", w.group,
			"hint", fmt.Sprintf("is a member running at a seed address, with the group name %q, and do UDP datagrams reach it?", w.group))
	}
	w.deadline = 0
}
