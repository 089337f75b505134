package grpctransport

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
	// Secret is the key of the run (from its join token): every call
	// carries an HMAC-SHA256 made with it, and a server refuses a call whose
	// HMAC is not its own (codes.Unauthenticated; the sender sees the peer as
	// lost, with that cause). Like the coordinator's join token, the value
	// travels in the clear: it keeps out who does not know the token, not
	// who can read the traffic. At least MinSecretBytes bytes, unless
	// Insecure is set.
	Secret []byte
	// Insecure allows an empty Secret: every call is then accepted. For
	// tests and benchmarks on a private host only; Secret and Insecure are
	// exclusive, so an empty Secret is never taken by accident.
	Insecure bool
	// MaxPayloadBytes is the largest payload a message carries: the Ring's
	// SegmentBytes (allreduce.Config). gRPC's receive limit is set to this
	// plus the frame header, no more; a larger Send fails locally with
	// allreduce.ErrMessageTooLarge.
	MaxPayloadBytes int
	// RecvQueueMessages is how many received data messages from one peer
	// wait for Recv before the transport stops reading that stream (and
	// gRPC flow control stops the sender).
	RecvQueueMessages int
	// StreamWindowBytes is the HTTP/2 flow-control window of one stream,
	// ConnWindowBytes that of one connection (gRPC's initial windows; setting
	// them turns off gRPC's dynamic window estimate). Together with the
	// queues they bound the bytes in flight to one peer.
	StreamWindowBytes int32
	ConnWindowBytes   int32
	// WriteBufferBytes is how much gRPC batches into one write(2).
	// ReadBufferBytes is the read buffer in front of the socket; 0 reads
	// each HTTP/2 frame straight into its final buffer: one copy of the data
	// less, but two read(2)s per 16 KiB frame (its 9-byte header, then its
	// data), and small reads cost the kernel far more per byte than large
	// ones (`craft bench link --block 16K` moves 1.2 GB/s over loopback,
	// `--block 1M` 3.9). With 64 KiB, on a quiet 2-core machine, `craft
	// bench allreduce` gains at every rank count (busbw at 1/16/64 MiB, two
	// alternating runs each: n=2 0.44-0.67/0.58-0.74/0.68-1.02 GB/s with 0
	// against 0.85-0.99/0.98-1.07/0.98-1.05 with 64 KiB; n=3 0.35-0.57/
	// 0.54-0.64/0.59-0.64 against 0.54-0.69/0.68-0.75/0.57-0.77; n=4
	// 0.29/0.37-0.42/0.41-0.42 against 0.34-0.44/0.39-0.52/0.44-0.50);
	// 32 and 128 KiB were no better. Over the same-host Unix sockets,
	// both buffers at 1 MiB beat 256 KiB writes and 64 KiB reads: three
	// alternating rounds gave busbw n=2 16 MiB 0.77-1.05 against
	// 0.80-0.90 GB/s, n=4 16/64 MiB 0.42-0.43/0.44-0.48 against
	// 0.37-0.41/0.39-0.43, n=3 the same; in bench/scaling.sh, 2 workers
	// 29.5-34.2k against 28.5-32.9k tokens/s, 1 ms less CPU a step.
	WriteBufferBytes int
	ReadBufferBytes  int
	// KeepaliveTime is how long a connection may be silent before the peer
	// is pinged, and KeepaliveTimeout how long the answer may take before the
	// peer counts as lost. (gRPC raises a client's KeepaliveTime below 10 s
	// to 10 s; the server side pings after KeepaliveTime too, so a silent
	// dead peer is seen after about KeepaliveTime+KeepaliveTimeout.)
	KeepaliveTime    time.Duration
	KeepaliveTimeout time.Duration
	// LocalSockets makes the transport also serve on an abstract Unix
	// socket (@craft-ring-grpc/<AdvertiseAddr>, Linux) and reach a peer
	// whose IP belongs to this host over the peer's, when it answers from a
	// process of this user; else over TCP. The gRPC service is the same on
	// both; the kernel spends about half the CPU per byte on a Unix socket.
	LocalSockets bool
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
}

// MinSecretBytes is the shortest Secret Validate accepts.
const MinSecretBytes = ringkey.MinBytes

// DefaultConfig returns a configuration for 127.0.0.1 with an ephemeral
// port, sized for the Ring's default segments. It has no Secret: set Secret
// (or, for tests, Insecure) before New.
func DefaultConfig() Config {
	return Config{
		ListenAddr:        "127.0.0.1:0",
		MaxPayloadBytes:   allreduce.DefaultConfig().SegmentBytes,
		RecvQueueMessages: 4,
		StreamWindowBytes: 4 << 20,
		ConnWindowBytes:   16 << 20,
		WriteBufferBytes:  1 << 20,
		ReadBufferBytes:   1 << 20,
		KeepaliveTime:     time.Second,
		KeepaliveTimeout:  time.Second,
		LocalSockets:      true,
	}
}

// minWindow is HTTP/2's initial window; gRPC ignores smaller values.
const minWindow = 64 << 10

// Validate names the first bad field.
func (c Config) Validate() error {
	if err := ringkey.Check("grpctransport", c.Secret, c.Insecure); err != nil {
		return err
	}
	switch {
	case c.MaxPayloadBytes < 1 || c.MaxPayloadBytes > 1<<30:
		return fmt.Errorf("grpctransport: Config.MaxPayloadBytes = %d; want in [1, 1 GiB]", c.MaxPayloadBytes)
	case c.RecvQueueMessages < 1:
		return fmt.Errorf("grpctransport: Config.RecvQueueMessages = %d; want >= 1", c.RecvQueueMessages)
	case c.StreamWindowBytes < minWindow:
		return fmt.Errorf("grpctransport: Config.StreamWindowBytes = %d; want >= %d", c.StreamWindowBytes, minWindow)
	case c.ConnWindowBytes < c.StreamWindowBytes:
		return fmt.Errorf("grpctransport: Config.ConnWindowBytes = %d; want >= StreamWindowBytes (%d)", c.ConnWindowBytes, c.StreamWindowBytes)
	case c.WriteBufferBytes < 0:
		return fmt.Errorf("grpctransport: Config.WriteBufferBytes = %d; want >= 0", c.WriteBufferBytes)
	case c.ReadBufferBytes < 0:
		return fmt.Errorf("grpctransport: Config.ReadBufferBytes = %d; want >= 0", c.ReadBufferBytes)
	case c.KeepaliveTime <= 0:
		return fmt.Errorf("grpctransport: Config.KeepaliveTime = %v; want > 0", c.KeepaliveTime)
	case c.KeepaliveTimeout <= 0:
		return fmt.Errorf("grpctransport: Config.KeepaliveTimeout = %v; want > 0", c.KeepaliveTimeout)
	}
	return nil
}
