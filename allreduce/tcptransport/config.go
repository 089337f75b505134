package tcptransport

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/internal/ringkey"
)

// Config configures a Transport. Start from DefaultConfig.
type Config struct {
	// ListenAddr is where New listens ("host:port"; port 0 picks one).
	// NewListener ignores it.
	ListenAddr string
	// AdvertiseAddr is the address peers dial (Transport.Addr); empty means
	// the listener's address, which suits 127.0.0.1 and explicit hosts but
	// not a wildcard such as ":7071".
	AdvertiseAddr string
	// Secret is the run's join token: every connection starts with a
	// handshake in which both ends prove they know it (HMAC-SHA256 over
	// fresh nonces), and a peer that cannot is refused. It must hold at
	// least MinSecretBytes bytes, unless Insecure is set.
	Secret []byte
	// Insecure allows an empty Secret: the handshake then authenticates
	// nobody. For tests and benchmarks on a private host only; Secret and
	// Insecure are exclusive, so an empty Secret is never taken by accident.
	Insecure bool
	// MaxPayloadBytes is the largest data payload a message carries: the
	// Ring's SegmentBytes (allreduce.Config). A larger Send fails locally
	// with allreduce.ErrMessageTooLarge; a received header announcing more
	// is a protocol error that drops the connection.
	MaxPayloadBytes int
	// SocketBufferBytes sets SO_SNDBUF and SO_RCVBUF of every data
	// connection (the kernel doubles it, capped by net.core.wmem_max and
	// rmem_max). Together they bound the bytes in flight to one peer: Send
	// blocks once both are full. 0 leaves the kernel's autotuning.
	SocketBufferBytes int
	// LocalSockets makes the transport also listen on an abstract Unix
	// socket named after its address (Linux), and dial a peer whose IP is
	// this host's over that socket first, falling back to TCP: the same
	// handshake, frames and guarantees, and about half the kernel's CPU per
	// byte (a writer and a reader in 1 MiB blocks: 7.9-8.1 GB/s over a Unix
	// stream socket, 3.6-4.4 over TCP loopback, for the same CPU).
	LocalSockets bool
	// DialTimeout bounds connecting to a peer, HandshakeTimeout the
	// handshake on a connection (either side).
	DialTimeout      time.Duration
	HandshakeTimeout time.Duration
	// HeartbeatInterval is how often each end of a peer's control
	// connection shows it is alive; a peer silent for PeerTimeout counts as
	// lost. (A killed process is seen at once: its kernel resets or closes
	// the connections.)
	HeartbeatInterval time.Duration
	PeerTimeout       time.Duration
	// Logger receives connection events (refused handshakes, lost peers);
	// nil means slog.Default().
	Logger *slog.Logger
}

// MinSecretBytes is the shortest Secret Validate accepts.
const MinSecretBytes = ringkey.MinBytes

// DefaultConfig returns a configuration for 127.0.0.1 with an ephemeral
// port, sized for the Ring's default segments. It has no Secret: set
// Secret (or, for tests, Insecure) before New.
func DefaultConfig() Config {
	return Config{
		ListenAddr:        "127.0.0.1:0",
		MaxPayloadBytes:   allreduce.DefaultConfig().SegmentBytes,
		SocketBufferBytes: 4 << 20,
		LocalSockets:      true,
		DialTimeout:       5 * time.Second,
		HandshakeTimeout:  5 * time.Second,
		HeartbeatInterval: 500 * time.Millisecond,
		PeerTimeout:       3 * time.Second,
	}
}

// Validate names the first bad field.
func (c Config) Validate() error {
	if err := ringkey.Check("tcptransport", c.Secret, c.Insecure); err != nil {
		return err
	}
	switch {
	case c.MaxPayloadBytes < 1 || c.MaxPayloadBytes > 1<<30:
		return fmt.Errorf("tcptransport: Config.MaxPayloadBytes = %d; want in [1, 1 GiB]", c.MaxPayloadBytes)
	case c.SocketBufferBytes < 0:
		return fmt.Errorf("tcptransport: Config.SocketBufferBytes = %d; want >= 0", c.SocketBufferBytes)
	case c.DialTimeout <= 0:
		return fmt.Errorf("tcptransport: Config.DialTimeout = %v; want > 0", c.DialTimeout)
	case c.HandshakeTimeout <= 0:
		return fmt.Errorf("tcptransport: Config.HandshakeTimeout = %v; want > 0", c.HandshakeTimeout)
	case c.HeartbeatInterval <= 0:
		return fmt.Errorf("tcptransport: Config.HeartbeatInterval = %v; want > 0", c.HeartbeatInterval)
	case c.PeerTimeout < 2*c.HeartbeatInterval:
		return fmt.Errorf("tcptransport: Config.PeerTimeout = %v; want >= 2 * HeartbeatInterval (%v)", c.PeerTimeout, 2*c.HeartbeatInterval)
	}
	return nil
}
