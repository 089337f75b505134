package allreduce

import (
	"context"
	"errors"
	"fmt"
)

// Transport moves the messages of one rank to and from the other ranks of a
// run. A Ring drives exactly one Transport; a Transport serves exactly one
// Ring (or, in tests, the conformance suite). Implementations: MemNetwork
// (in process, for tests and benchmarks), grpctransport (production, the
// default) and tcptransport (plain TCP with an HMAC handshake: no HTTP/2
// framing and no copy in user space, 2-3x gRPC's bandwidth; chosen by
// allreduce.transport tcp).
//
// # Generations
//
// A Transport starts unconfigured. Configure sets the run id, the membership
// generation, this endpoint's rank and the address of every rank (Peers[i] is
// the Addr of the endpoint that is rank i). Each later Configure must carry a
// larger generation; the ranks and peers may change freely (a new ring order
// after a failure or a join). Configure must not run concurrently with Send
// or Recv: the caller first cancels the operations of the old generation.
//
// # Messages and fencing
//
// A message is a Header and a payload of raw bytes (little-endian float32, or
// bfloat16/float16 when the ring compresses the wire; for KindAbort a short
// reason, see Ring). The transport never looks inside the payload and sends
// the Header exactly as given (it does not stamp it), so the conformance
// suite can forge stale messages.
//
// The receiving side refuses, never delivers, a message whose Run differs
// from the configured run or whose Gen is older than the configured
// generation: it is dropped silently (they are the leftovers of an aborted
// generation). A message of a NEWER generation is held, in order, and not
// delivered: while such a message is the next one from a peer, Recv from that
// peer returns an error wrapping ErrFutureGeneration (the peer has moved on;
// this rank's current operation cannot complete), and once Configure reaches
// that generation the message is delivered normally. Configure drops every
// held message older than the new generation. Step and Seg are checked by the
// Ring, not by the transport.
//
// # Order and flow control
//
// Messages from one sending endpoint to one receiving endpoint are delivered
// in the order sent (a stream), except that a KindAbort message may overtake
// the data messages queued before it: its Send must not wait for the data flow
// control of that peer, and Recv returns a pending abort before any pending
// data. The transport buffers a bounded number of messages (or bytes) per
// peer; Send blocks while that peer's buffer is full. Buffering a few segments
// per peer is what keeps the wire busy while the Ring reduces.
//
// # Buffers
//
// Send must not keep payload (nor retain a reference to it) after it returns:
// the caller reuses it at once. Recv copies the payload of the next message
// into dst and returns its header and length; dst belongs to the caller. A
// payload longer than dst is an error wrapping ErrMessageTooLarge (the message
// is consumed). A zero-length payload is valid. (A transport may also lend
// its own buffer instead: see Lender.)
//
// # Concurrency
//
// For each peer, at most one goroutine calls Send to it and at most one
// goroutine calls Recv from it at a time; Sends to different peers, Recvs
// from different peers, and Send and Recv together may run concurrently.
// Addr is safe at any time; Close is safe at any time, from any goroutine,
// and more than once.
//
// # Failures, cancellation and Close
//
// Send and Recv return within 100 ms of ctx being done, with an error
// wrapping ctx.Err(), and do not use ctx after they return (the Ring reuses
// its contexts; context.AfterFunc stopped before returning is fine). When
// the peer's endpoint is closed, its process dies or its connection breaks,
// Send to it and Recv from it return an error wrapping ErrPeerLost (use
// errors.As with *PeerError to find the rank); a Recv still returns the
// messages that arrived before the loss. Losing a peer does not
// close the transport: after the next Configure it works with the remaining
// (and new) peers. Close releases everything, makes every blocked Send and
// Recv return within 100 ms with an error wrapping ErrClosed, and makes the
// peers see this endpoint as lost.
type Transport interface {
	// Addr returns the address other endpoints use to reach this one; it goes
	// into Membership.Peers. It is fixed for the life of the transport.
	Addr() string

	// Configure moves the transport to the generation m.Gen (see Generations).
	// It may dial peers, and returns an error wrapping ErrStaleGeneration if
	// m.Gen is not larger than the current generation.
	Configure(ctx context.Context, m Membership) error

	// Send sends h and payload to the endpoint that is rank `to` in the current
	// generation. It returns once the payload has been copied or written out;
	// it does not wait for the peer to receive it (beyond flow control).
	Send(ctx context.Context, to int, h Header, payload []byte) error

	// Recv waits for the next message from the endpoint that is rank `from`
	// in the current generation, copies its payload into dst and returns its
	// header and the payload length.
	Recv(ctx context.Context, from int, dst []byte) (Header, int, error)

	// Close closes the transport; see Failures, cancellation and Close.
	Close() error
}

// Lender is implemented by transports that can lend a received payload in
// place instead of copying it into a caller's buffer; the Ring uses it, when
// present, for the segments it adds into its buffer (one copy less).
type Lender interface {
	// RecvLend is Recv without the copy: it waits for the next message from
	// rank from, exactly as Recv does (same fencing, order, errors), and
	// calls use once with its header and payload. The payload is valid only
	// until use returns; use does not block. RecvLend returns use's error.
	// Same concurrency rules as Recv (it counts as a Recv from that peer).
	RecvLend(ctx context.Context, from int, use func(h Header, payload []byte) error) error
}

// Membership is one generation of a run as one rank sees it.
type Membership struct {
	// Run identifies the training run; messages of another run are refused.
	Run uint64
	// Gen is the membership generation; it increases with every change.
	Gen uint64
	// Rank is this endpoint's position in the ring, 0 <= Rank < len(Peers).
	Rank int
	// Peers holds the address (Transport.Addr) of every rank, in ring order;
	// Peers[Rank] is this endpoint.
	Peers []string
}

// Size returns the number of ranks.
func (m Membership) Size() int { return len(m.Peers) }

// Validate reports the first problem with m.
func (m Membership) Validate() error {
	switch {
	case len(m.Peers) == 0:
		return fmt.Errorf("%w: Peers is empty", ErrInvalidMembership)
	case m.Rank < 0 || m.Rank >= len(m.Peers):
		return fmt.Errorf("%w: Rank %d outside [0, %d)", ErrInvalidMembership, m.Rank, len(m.Peers))
	}
	seen := make(map[string]int, len(m.Peers))
	for i, p := range m.Peers {
		if p == "" {
			return fmt.Errorf("%w: Peers[%d] is empty", ErrInvalidMembership, i)
		}
		if j, ok := seen[p]; ok {
			return fmt.Errorf("%w: Peers[%d] and Peers[%d] are both %q", ErrInvalidMembership, j, i, p)
		}
		seen[p] = i
	}
	return nil
}

// Kind says what a message carries.
type Kind uint8

const (
	// KindData carries one segment of an all-reduce.
	KindData Kind = iota
	// KindAbort says the sender gave up the operation of Step in generation
	// Gen (or later): its payload names the rank to blame and why (Ring's
	// format). It may overtake data (see Transport).
	KindAbort
)

// String returns "data" or "abort".
func (k Kind) String() string {
	switch k {
	case KindData:
		return "data"
	case KindAbort:
		return "abort"
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// Header is the fencing information every message carries.
type Header struct {
	// Kind is KindData or KindAbort.
	Kind Kind
	// Run is the run id of Membership.Run.
	Run uint64
	// Gen is the sender's membership generation.
	Gen uint64
	// Step is the Tag.Step of the operation the message belongs to.
	Step uint64
	// From is the sender's rank in generation Gen.
	From uint32
	// Seg numbers the data messages of one operation on one link, from 0
	// (the Ring skips the numbers of segments that are empty on every rank).
	Seg uint32
}

// String formats h for errors and logs.
func (h Header) String() string {
	return fmt.Sprintf("%s run=%x gen=%d step=%d from=%d seg=%d", h.Kind, h.Run, h.Gen, h.Step, h.From, h.Seg)
}

// Errors of transports. Implementations wrap them (fmt.Errorf("...: %w")) so
// that errors.Is finds them.
var (
	// ErrClosed: the local transport (or Ring) is closed.
	ErrClosed = errors.New("allreduce: closed")
	// ErrPeerLost: the peer's endpoint is gone (closed, dead, connection
	// broken). Wrapped in a *PeerError naming the peer.
	ErrPeerLost = errors.New("allreduce: peer lost")
	// ErrFutureGeneration: the next message from the peer belongs to a newer
	// generation than the configured one. Wrapped in a *PeerError.
	ErrFutureGeneration = errors.New("allreduce: peer is in a newer generation")
	// ErrStaleGeneration: Configure with a generation not newer than the
	// current one, or an operation tagged with a generation other than the
	// configured one.
	ErrStaleGeneration = errors.New("allreduce: stale generation")
	// ErrNotConfigured: Send or Recv before the first Configure.
	ErrNotConfigured = errors.New("allreduce: transport not configured")
	// ErrMessageTooLarge: a received payload does not fit the Recv buffer.
	ErrMessageTooLarge = errors.New("allreduce: message larger than buffer")
	// ErrInvalidMembership: Membership.Validate failed, or a rank is out of
	// range.
	ErrInvalidMembership = errors.New("allreduce: invalid membership")
	// ErrPeerAborted: a peer gave up the operation (its context was
	// cancelled, it lost its own neighbour, or it found a protocol error) and
	// told the ring with a KindAbort message. Wrapped in a *PeerError naming
	// the rank to blame, which is not always the neighbour that sent the abort.
	ErrPeerAborted = errors.New("allreduce: operation aborted by a peer")
)

// PeerError names the peer an error is about. Err wraps a sentinel such as
// ErrPeerLost, ErrFutureGeneration or ErrPeerAborted.
type PeerError struct {
	// Rank is the peer's rank in the generation of the failed operation.
	Rank int
	// Addr is the peer's address, when known.
	Addr string
	// Err is the cause.
	Err error
}

// Error formats "peer 3 (addr): cause".
func (e *PeerError) Error() string {
	if e.Addr != "" {
		return fmt.Sprintf("peer %d (%s): %v", e.Rank, e.Addr, e.Err)
	}
	return fmt.Sprintf("peer %d: %v", e.Rank, e.Err)
}

// Unwrap returns Err.
func (e *PeerError) Unwrap() error { return e.Err }
