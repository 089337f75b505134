package membership

import (
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/memberlist"
)

// Config configures a Node. Start from DefaultConfig.
type Config struct {
	// Name identifies the node in the cluster; it must be unique (the worker
	// id, or "coordinator").
	Name string
	// BindAddr is the host:port the node listens on, UDP and TCP; port 0
	// picks a free port (see Node.Addr).
	BindAddr string
	// AdvertiseAddr is the host:port other nodes reach this one on; empty
	// means BindAddr (with the chosen port).
	AdvertiseAddr string
	// Meta is published to the other nodes with this node.
	Meta Meta
	// JoinToken, if not empty, is the cluster's shared secret: gossip is
	// encrypted with a key derived from it and nodes without it cannot join.
	JoinToken string

	// ProbeInterval is how often a node probes one random member.
	ProbeInterval time.Duration
	// ProbeTimeout is how long a probe waits for an ack before indirect
	// probes through other members start; above the LAN round trip.
	ProbeTimeout time.Duration
	// SuspicionMult scales how long a suspected member has to refute before
	// it is declared failed: SuspicionMult * ProbeInterval (times log10 of
	// the cluster size past 10 members).
	SuspicionMult int
	// GossipInterval is how often a node gossips queued messages.
	GossipInterval time.Duration
	// PushPullInterval is how often a node syncs its full state with a random
	// member over TCP.
	PushPullInterval time.Duration
	// TCPTimeout bounds TCP connects and reads: joins, push-pull, TCP pings.
	TCPTimeout time.Duration
	// DeadNodeReclaimTime is how soon a failed node's name may rejoin from a
	// new address (a restarted worker).
	DeadNodeReclaimTime time.Duration
	// LeaveTimeout bounds how long Close waits for the leave message to
	// propagate.
	LeaveTimeout time.Duration
	// EventBuffer is the capacity of the Events channel; events beyond it
	// queue in memory, they are never dropped and never block gossip.
	EventBuffer int
	// Logger receives memberlist's log lines; nil means slog.Default().
	Logger *slog.Logger

	// transport replaces the UDP/TCP transport (tests: memberlist.MockNetwork).
	transport memberlist.Transport
}

// DefaultConfig returns the LAN configuration with fast failure detection:
// probes every 250 ms with a 150 ms timeout, 4 probe intervals of suspicion,
// gossip every 100 ms. A SIGKILLed member is declared failed in about 1.3-2 s
// (TestDetectKilledMember, real sockets on 127.0.0.1). Probes every 200 ms
// with a 100 ms timeout detect in 1.1-1.3 s, but once declared a live node
// failed while every core was busy (TestNoFalseFailuresUnderLoad under
// -race), and a false failure costs the run a rollback to its last
// checkpoint.
func DefaultConfig() Config {
	return Config{
		BindAddr:            "0.0.0.0:7946",
		ProbeInterval:       250 * time.Millisecond,
		ProbeTimeout:        150 * time.Millisecond,
		SuspicionMult:       4,
		GossipInterval:      100 * time.Millisecond,
		PushPullInterval:    15 * time.Second,
		TCPTimeout:          2 * time.Second,
		DeadNodeReclaimTime: 2 * time.Second,
		LeaveTimeout:        time.Second,
		EventBuffer:         64,
	}
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("membership: Name is empty")
	}
	if c.transport == nil {
		if _, _, err := splitHostPort(c.BindAddr); err != nil {
			return fmt.Errorf("membership: BindAddr %q: %w", c.BindAddr, err)
		}
	}
	if c.AdvertiseAddr != "" {
		if _, _, err := splitHostPort(c.AdvertiseAddr); err != nil {
			return fmt.Errorf("membership: AdvertiseAddr %q: %w", c.AdvertiseAddr, err)
		}
	}
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"ProbeInterval", c.ProbeInterval}, {"ProbeTimeout", c.ProbeTimeout},
		{"GossipInterval", c.GossipInterval}, {"PushPullInterval", c.PushPullInterval},
		{"TCPTimeout", c.TCPTimeout}, {"LeaveTimeout", c.LeaveTimeout},
	}
	for _, d := range durations {
		if d.d <= 0 {
			return fmt.Errorf("membership: %s = %s; want > 0", d.name, d.d)
		}
	}
	switch {
	case c.ProbeTimeout >= c.ProbeInterval:
		return fmt.Errorf("membership: ProbeTimeout %s must be under ProbeInterval %s", c.ProbeTimeout, c.ProbeInterval)
	case c.SuspicionMult < 1:
		return fmt.Errorf("membership: SuspicionMult = %d; want >= 1", c.SuspicionMult)
	case c.DeadNodeReclaimTime < 0:
		return fmt.Errorf("membership: DeadNodeReclaimTime = %s; want >= 0", c.DeadNodeReclaimTime)
	case c.EventBuffer < 0:
		return fmt.Errorf("membership: EventBuffer = %d; want >= 0", c.EventBuffer)
	}
	if b, err := c.Meta.encode(); err != nil {
		return fmt.Errorf("membership: Meta: %w", err)
	} else if len(b) > memberlist.MetaMaxSize {
		return fmt.Errorf("membership: Meta encodes to %d bytes; memberlist allows %d", len(b), memberlist.MetaMaxSize)
	}
	return nil
}

// KeyFromToken derives the cluster's 32-byte gossip key (AES-256) from a join
// token.
func KeyFromToken(token string) []byte {
	k := sha256.Sum256([]byte("craft membership key\x00" + token))
	return k[:]
}

func splitHostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("bad port %q", p)
	}
	return host, port, nil
}
