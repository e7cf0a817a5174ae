package conclave

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/membership"
	"github.com/conclave-go/conclave/transport"
)

// Config says which group to join and how.
type Config struct {
	// Group names the group. Datagrams of other groups are dropped.
	Group string
	// Listen is the address to receive on: a specific IP address (other
	// members send to it) and a port, 0 for any free one. Ignored when
	// Conn is set.
	Listen netip.AddrPort
	// Seeds are addresses of members (or would-be members) to contact. A
	// member with no seeds starts a group of its own that others join.
	// Join refuses a seed equal to the member's own address: a member
	// cannot find a group through itself.
	Seeds []netip.AddrPort
	// SeedWait is how long a member with seeds may stay alone before it
	// warns through Logger that no seed has answered (no member is running
	// there, it uses another group name, or datagrams do not reach it): a
	// member that finds no group looks, from inside, exactly like the first
	// member of a new one. Default 5s; negative: never warn.
	SeedWait time.Duration
	// Members and Self are a shorthand for a fixed list of addresses, the
	// same at every member: Listen is Members[Self] and Seeds the others.
	Members []netip.AddrPort
	Self    int
	// Conn is the transport to use. When nil, Join listens on UDP at
	// Listen and closes the socket when the member stops.
	Conn transport.Conn
	// TotalOrder makes every member deliver multicasts in the same order
	// (a sequencer layer), not only each sender's in its order.
	TotalOrder bool
	// Layers names the stack's layers, bottom first, overriding
	// TotalOrder. Default: compose.Reliable (compose.Total with
	// TotalOrder). In a secured group the protection layers that
	// Protection and SenderAuth call for (encrypt, sign, private) are
	// added at their places unless Layers names them already; Layers
	// must not name one the policy does not call for.
	Layers []string
	// Options configures the layers.
	Options compose.Options
	// Timing sets the membership protocol's timers (failure detection,
	// view changes). Zero fields take membership.DefaultTiming.
	Timing membership.Timing
	// Credential is this member's credential: a Noise static key, say
	// (auth/noise; `keyadmin keygen noise -o FILE` makes a key file and
	// noise.LoadPrivateKeyFile reads it). With one, the group is secured
	// (package membership/secure): a process becomes a member only after
	// a handshake that proves its credential and an admission check of
	// its identity, every view has its own key epoch agreed inside the
	// view change, and control messages are authenticated. A group is
	// secured by default: Join needs a Credential, a Participant, or
	// Insecure.
	Credential auth.Credential
	// Admit is the admission check of a secured group, required with a
	// Credential: it is asked about each joiner (at the coordinator), the
	// coordinator (at a joiner), and every identity a view change adds
	// (at every member), and a non-nil error keeps that identity out.
	// auth.Allow makes one from a list of public keys. The member's own
	// identity is always admitted, so one list can serve every member
	// whether it names the member itself or not.
	Admit func(auth.Identity) error
	// Suite is the MLS cipher suite of a secured group's key epochs.
	// Default crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519 (0x0001).
	// Every member of a group must use the same.
	Suite crypto.SuiteID
	// Protection says how a secured group protects its messages (every
	// byte a member sends, above the bottom layer's header): Private, the
	// default, seals them (layers/encrypt); IntegrityOnly authenticates
	// them but leaves them readable on the wire. Either way a datagram
	// that opens proves that some member of the view's key epoch sent it,
	// not which member. Applies to a secured group only.
	Protection Protection
	// SenderAuth adds sender authentication (layers/sign): every multicast
	// is signed by its sender, in batches, so that no member can forge or
	// alter another member's multicasts, although every member holds the
	// keys that seal them. A batch is what the sender's driver took in
	// one pass (one message at light load, more as load grows, at most
	// 128): a signature per batch at the sender and a verification per
	// batch at every receiver, which is all the delay it adds. Applies to
	// a secured group only.
	SenderAuth bool
	// RekeyInterval, if not zero, makes a secured group's coordinator
	// start a rekey round (a new epoch with the same members) once a view
	// is this old. Group.Rekey asks for one at any time.
	RekeyInterval time.Duration
	// Insecure runs a plain group, without a Credential: anyone who can
	// send datagrams to a member can join, there are no keys, and control
	// messages are trusted on their source address. For tests, and for
	// networks where every process is trusted.
	Insecure bool
	// Participant takes the place of the secure participant a Credential
	// builds (a test's, say): it admits joiners by handshake, decides and
	// confirms each view's keys (handed to the stack), and authenticates
	// control messages.
	Participant membership.Participant
	// Tick is the period of the stack's timers. Default 1ms.
	Tick time.Duration
	// MaxDatagram bounds the datagrams sent. Default 1400 bytes.
	MaxDatagram int
	// MaxMessage bounds the messages sent and received. Default 64 MiB.
	MaxMessage int
	// Backlog is how many messages may wait (for flow control or a view
	// change) before Multicast and Send block. Default 1024.
	Backlog int
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Group == "" {
		return cfg, errors.New("conclave: config: empty group name")
	}
	if len(cfg.Members) > 0 {
		if cfg.Self < 0 || cfg.Self >= len(cfg.Members) {
			return cfg, fmt.Errorf("conclave: config: self %d is not an index of members (0…%d)", cfg.Self, len(cfg.Members)-1)
		}
		for i, a := range cfg.Members {
			if !a.IsValid() {
				return cfg, fmt.Errorf("conclave: config: member %d has no address", i)
			}
			if slices.Index(cfg.Members, a) != i {
				return cfg, fmt.Errorf("conclave: config: address %v appears twice in members", a)
			}
		}
		cfg.Listen = cfg.Members[cfg.Self]
		cfg.Seeds = slices.Clone(cfg.Seeds)
		for i, a := range cfg.Members {
			if i != cfg.Self {
				cfg.Seeds = append(cfg.Seeds, a)
			}
		}
	}
	if err := cfg.checkSecurity(); err != nil {
		return cfg, err
	}
	if cfg.Conn == nil {
		if !cfg.Listen.IsValid() {
			return cfg, errors.New("conclave: config: no listen address")
		}
		if cfg.Listen.Addr().IsUnspecified() {
			return cfg, fmt.Errorf("conclave: config: listen address %v must name one IP address, which other members will send to", cfg.Listen)
		}
	}
	for i, a := range cfg.Seeds {
		if !a.IsValid() || a.Addr().IsUnspecified() || a.Port() == 0 {
			return cfg, fmt.Errorf("conclave: config: seed %d (%v) is not an address a member can listen on: want an IP address and a port", i, a)
		}
	}
	if cfg.SeedWait == 0 {
		cfg.SeedWait = DefaultSeedWait
	}
	if cfg.Layers == nil {
		cfg.Layers = compose.Reliable
		if cfg.TotalOrder {
			cfg.Layers = compose.Total
		}
	}
	var err error
	if cfg.Layers, cfg.Options, err = cfg.protect(); err != nil {
		return cfg, err
	}
	if cfg.Tick <= 0 {
		cfg.Tick = time.Millisecond
	}
	if cfg.MaxDatagram == 0 {
		cfg.MaxDatagram = layers.DefaultMaxDatagram
	}
	if cfg.MaxMessage == 0 {
		cfg.MaxMessage = layers.DefaultMaxMessage
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

// checkSecurity refuses a configuration that says nothing about security
// (secure by default), and one whose security settings contradict each
// other or would be ignored.
func (c *Config) checkSecurity() error {
	secured := c.Credential != nil
	switch {
	case secured && c.Participant != nil:
		return errors.New("conclave: config: both a Credential and a Participant: the Credential builds a participant of its own; set one")
	case secured && c.Insecure:
		return errors.New("conclave: config: Insecure with a Credential: drop Insecure to run the secured group, or the Credential to run a plain one")
	case secured && c.Admit == nil:
		return errors.New("conclave: config: a Credential without Admit: a secured group needs an admission check; " +
			"auth.Allow(names...) admits a list of identities (a Noise key's name is its public key as `keyadmin pubkey` prints it)")
	case !secured && (c.Admit != nil || c.Suite != 0 || c.RekeyInterval != 0):
		return errors.New("conclave: config: Admit, Suite and RekeyInterval apply to a secured group, which needs a Credential")
	case !secured && (c.Protection != Private || c.SenderAuth):
		return errors.New("conclave: config: Protection and SenderAuth apply to a secured group, which needs a Credential")
	case !secured && c.Participant == nil && !c.Insecure:
		return errors.New("conclave: config: no Credential: a group is secured by default; set Credential " +
			"(a Noise key: see auth/noise, and `keyadmin keygen noise -o FILE` to make one) and Admit, or Insecure for a plain group")
	}
	if c.RekeyInterval < 0 {
		return errors.New("conclave: config: negative RekeyInterval")
	}
	if c.Protection != Private && c.Protection != IntegrityOnly {
		return fmt.Errorf("conclave: config: unknown Protection %d", int(c.Protection))
	}
	return nil
}

// DefaultSeedWait is Config.SeedWait's default.
const DefaultSeedWait = 5 * time.Second

// GroupID is the identifier a group name maps to on the wire.
func GroupID(name string) uint64 {
	h := sha256.Sum256([]byte("conclave group id\x00" + name))
	return binary.BigEndian.Uint64(h[:8])
}
