package secure

import (
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/conclave-go/conclave/auth"
	"github.com/conclave-go/conclave/crypto"
	"github.com/conclave-go/conclave/keying"
	"github.com/conclave-go/conclave/membership"
)

// Config is what a secure participant needs.
type Config struct {
	// Credential is this process's credential: it runs the admission
	// handshakes and names this member. Required.
	Credential auth.Credential
	// Admit is the group's admission check, a function of an
	// authenticated identity: checked for each joiner (at the
	// coordinator), for the coordinator (at a joiner), and for every
	// identity a commit adds (at every member). Required. The text of
	// the error that refuses a joiner is shown to it (cut to
	// membership.MaxRefusalReason bytes): it must tell nothing of the
	// group.
	Admit func(auth.Identity) error
	// Suite is the MLS cipher suite of the group's epochs; 0 means
	// crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519 (0x0001).
	Suite crypto.SuiteID
	// Group is the group's name, bound into every epoch (the MLS group
	// id): members of groups of different names share no keys.
	Group string
	// PolicyHash is bound into every epoch's context, so that members
	// that disagree on the admission policy derive different keys. At
	// most keying.MaxPolicyHashLen bytes.
	PolicyHash []byte
	// RekeyInterval, if not 0, asks for a rekey round once a view is
	// this old.
	RekeyInterval time.Duration
	// RekeyMessages and RekeyBytes, if not 0, ask for a rekey round
	// once this member has delivered this many messages or bytes in a
	// view.
	RekeyMessages, RekeyBytes uint64
	// Rand is the source of every key and nonce; default crypto/rand.
	// The simulator passes a seeded one.
	Rand io.Reader
	// Logger receives what the participant has to say; default discard.
	// It never receives a secret.
	Logger *slog.Logger
}

// maxGroupName bounds Config.Group: the MLS group id is a label and the
// name, at most keying.MaxGroupIDLen bytes.
const maxGroupName = keying.MaxGroupIDLen - len(groupIDLabel)

const groupIDLabel = "conclave group "

// Participant is the secure participant of one member: it implements
// membership.Participant, membership.Rekeyer, membership.Describer,
// membership.EarlyDecider and membership.Idler.
// Membership calls those methods from one goroutine; Export, Epoch,
// Identity, EpochDigest and Confirmed may be called from any goroutine at
// any time.
type Participant struct {
	cfg     Config
	suite   *crypto.Suite
	groupID []byte
	id      auth.Identity
	// sig is this member's long-lived signature key for the group: every
	// key package and leaf of this member carries its public half, and
	// Change control messages are signed with it. Each group state gets
	// its own copy, since destroying a state erases its key.
	sig *crypto.SigningKey

	// mu guards everything below: membership's goroutine changes it,
	// readers of Export and the records may come from anywhere.
	mu         sync.Mutex
	self       membership.Endpoint
	selfBytes  []byte
	view       membership.View                // the view membership installed last (Authenticator)
	cur        *epochState                    // the installed epoch; nil before the first, or after one without keys
	pending    map[membership.ViewID]*pending // processed, not yet installed
	commit     *decided                       // this member's commit of a round, while it may be installed
	joining    []*joinKey                     // the key packages this member contributed as a joiner
	verified   verified                       // the last decision Verify parsed
	rosters    rosterStore                    // rosters of joiners admitted as coordinator
	history    history                        // digests and confirmations of recent views
	auths      []*authenticator               // of the last views, for their keys to be erased
	pairs      pairCache                      // pairwise keys of this member's leaf with its peers' (pairwise.go)
	seals      int                            // HPKE encryptions of this member's last commit
	lastCommit membership.ViewID              // the view of that commit
	ahead      ahead                          // work done ahead at rest (idle.go)
}

// New returns a participant for cfg.
func New(cfg Config) (*Participant, error) {
	if cfg.Credential == nil {
		return nil, errors.New("secure: no credential")
	}
	if cfg.Admit == nil {
		return nil, errors.New("secure: no admission check")
	}
	if cfg.Suite == 0 {
		cfg.Suite = crypto.MLS128DHKEMX25519AES128GCMSHA256Ed25519
	}
	suite, err := crypto.LookupSuite(cfg.Suite)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	if len(cfg.Group) > maxGroupName {
		return nil, fmt.Errorf("secure: group name longer than %d bytes", maxGroupName)
	}
	if len(cfg.PolicyHash) > keying.MaxPolicyHashLen {
		return nil, fmt.Errorf("secure: policy hash longer than %d bytes", keying.MaxPolicyHashLen)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	id := cfg.Credential.Identity()
	if _, err := identityBytes(id.Provider, id.Name); err != nil {
		return nil, err
	}
	sig, err := suite.GenerateSigningKey(cfg.Rand)
	if err != nil {
		return nil, fmt.Errorf("secure: signature key: %w", err)
	}
	return &Participant{
		cfg:     cfg,
		suite:   suite,
		groupID: []byte(groupIDLabel + cfg.Group),
		id:      id,
		sig:     sig,
		pending: make(map[membership.ViewID]*pending),
	}, nil
}

// Identity is this member's identity, as its credential names it.
func (p *Participant) Identity() auth.Identity { return p.id }

// Epoch is the epoch number of the installed epoch (0 before the first).
func (p *Participant) Epoch() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return 0
	}
	return p.cur.group.Epoch().Number()
}

// Export is the MLS exporter (RFC 9420 §8.5) of the installed epoch: a
// secret of length bytes for an application's label and context, the same
// at every member of the view, and unrelated to any other epoch's.
func (p *Participant) Export(label string, context []byte, length int) ([]byte, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cur == nil {
		return nil, errors.New("secure: no epoch installed")
	}
	s, err := p.cur.group.Epoch().Export(label, context, length)
	if err != nil {
		return nil, fmt.Errorf("secure: %w", err)
	}
	return []byte(s), nil
}

// EpochDigest returns a fingerprint of the epoch installed with view id:
// SHA-256 of a label and the epoch's authenticator secret, never a secret
// itself. Every member of a view has the same; only the
// last 16 views are kept.
func (p *Participant) EpochDigest(id membership.ViewID) ([32]byte, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.history.find(id)
	if r == nil || !r.installed {
		return [32]byte{}, false
	}
	return r.digest, true
}

// Confirmed reports whether this member confirmed the epoch of view id:
// it processed the view's decision and sent its confirmation (or made the
// view alone). Only the last 16 views are kept.
func (p *Participant) Confirmed(id membership.ViewID) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.history.find(id)
	return r != nil && r.confirmed
}

// digestOf is the fingerprint of g's epoch that EpochDigest reports: the
// SHA-256 hash of a label and the epoch authenticator (RFC 9420 §8, the
// secret members compare out of band), never a key of the epoch, nor
// anything Export gives the application.
func digestOf(g *keying.Group) [32]byte {
	h := sha256.New()
	h.Write([]byte("conclave epoch digest\x00"))
	h.Write(g.Epoch().EpochAuthenticator())
	var d [32]byte
	h.Sum(d[:0])
	return d
}

var (
	_ membership.Participant = (*Participant)(nil)
	_ membership.Rekeyer     = (*Participant)(nil)
	_ membership.Describer   = (*Participant)(nil)
)
