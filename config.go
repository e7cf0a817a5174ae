package conclave

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/conclave-go/conclave/layers"
	"github.com/conclave-go/conclave/layers/compose"
	"github.com/conclave-go/conclave/transport"
)

// Config says which group to join and how.
type Config struct {
	// Group names the group. Datagrams of other groups are dropped.
	Group string
	// Members lists every member's address, the same list at every
	// member; a member's rank is its index.
	Members []netip.AddrPort
	// Self is this member's rank in Members.
	Self int
	// Conn is the transport to use. When nil, Join listens on UDP at
	// Members[Self] and closes the socket on Close.
	Conn transport.Conn
	// Layers names the stack's layers, bottom first. Default:
	// compose.Reliable.
	Layers []string
	// Options configures the layers.
	Options compose.Options
	// Tick is the period of the stack's timers. Default 1ms.
	Tick time.Duration
	// MaxDatagram bounds the datagrams sent. Default 1400 bytes.
	MaxDatagram int
	// MaxMessage bounds the messages sent and received. Default 64 MiB.
	MaxMessage int
	// Backlog is how many messages flow control may hold back before
	// Multicast and Send block. Default 1024.
	Backlog int
	// Logger receives diagnostics. Default: discard.
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.Group == "" {
		return cfg, errors.New("conclave: config: empty group name")
	}
	if len(cfg.Members) == 0 {
		return cfg, errors.New("conclave: config: no members")
	}
	if cfg.Self < 0 || cfg.Self >= len(cfg.Members) {
		return cfg, fmt.Errorf("conclave: config: self %d is not a member rank (0…%d)", cfg.Self, len(cfg.Members)-1)
	}
	seen := make(map[netip.AddrPort]int, len(cfg.Members))
	for i, a := range cfg.Members {
		if !a.IsValid() {
			return cfg, fmt.Errorf("conclave: config: member %d has no address", i)
		}
		if j, dup := seen[a]; dup {
			return cfg, fmt.Errorf("conclave: config: members %d and %d share address %v", j, i, a)
		}
		seen[a] = i
	}
	if cfg.Layers == nil {
		cfg.Layers = compose.Reliable
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

// GroupID is the identifier a group name maps to on the wire.
func GroupID(name string) uint64 {
	h := sha256.Sum256([]byte("conclave group id\x00" + name))
	return binary.BigEndian.Uint64(h[:8])
}
