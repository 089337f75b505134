// Package grpctransport is the production allreduce.Transport: the ring's
// messages over gRPC (HTTP/2 over TCP, or over a Unix socket between ranks
// on one host).
//
// Each Transport serves the Ring service (ringpb/ring.proto) on one listener
// for its whole life, across generations. To send, it keeps one ClientConn
// per peer address and, on it, one long-lived client stream that carries
// every data message to that peer, in order, whatever the generation;
// aborts go as unary calls, so they overtake queued data and never wait for
// the data stream's flow control. Configure reuses the connections to peers
// that are still alive, dials new ones, and closes the rest.
//
//	cfg := grpctransport.DefaultConfig()
//	cfg.Secret = key // the run's key, the same on every rank (>= 16 bytes)
//	tr, err := grpctransport.New(cfg)
//	...
//	ring := allreduce.New(tr, allreduce.DefaultConfig())
//	err = ring.Configure(ctx, allreduce.Membership{Run: run, Gen: 1, Rank: r, Peers: addrs})
//
// Peers on the same host (Config.LocalSockets, Linux): the server also
// listens on the abstract Unix socket @craft-ring-grpc/<its address>, and a
// peer whose IP belongs to this host is dialled there first (when the
// process behind it runs as this user), over TCP otherwise. It is the same
// gRPC service over a cheaper socket: the kernel spends about half the CPU
// per byte of TCP loopback, and the connection's buffers are set to 4 MiB,
// since a Unix socket does not grow them as TCP does.
//
// Every call carries an HMAC-SHA256 of a fixed label under Config.Secret
// (the run's key, from the join token) in its metadata; the server refuses
// a call without the right one (auth.go), so a process that does not know
// the token cannot feed a rank gradients. Like the coordinator's token, the
// proof travels in the clear. Config.Insecure turns the check off, for tests
// and benchmarks.
//
// # Bytes on the wire
//
// A message is one ringpb.Frame: the header (run, generation, step, sender
// rank, segment, kind) and the payload as a protobuf bytes field holding the
// raw little-endian elements, encoded and decoded by a custom gRPC codec
// (codec.go; a test holds it to protobuf's encoding, a fuzz test its decoder
// to protobuf's). Send writes the header and hands a payload of 16 KiB or
// more to gRPC in place, in the caller's goroutine: gRPC's writer copies it
// into the connection's write buffer, and Send returns once it has (Send
// must not keep the caller's buffer); smaller payloads are copied into a
// pooled buffer. On receipt the codec parses the header and keeps a
// reference to gRPC's frame buffers (read straight from the socket, from a
// pool that does not zero them), from which Recv copies the payload into
// the caller's buffer. Nothing is allocated per message for the payload.
//
// # Flow control and buffers
//
// Per peer, at most Config.RecvQueueMessages received messages wait for
// Recv; beyond that the HTTP/2 stream window (Config.StreamWindowBytes)
// holds the rest, and Send blocks in its own select, so a cancelled context
// ends it (the stream is then cancelled and the next Send opens another).
// The receive limit is MaxPayloadBytes plus the header: set MaxPayloadBytes
// to the Ring's SegmentBytes, not more.
//
// # Failures
//
// A peer counts as lost when a connection to or from it fails (the peer's
// process died, its endpoint closed, or keepalive found it silent) or when
// it cannot be reached at all; the end of a single stream is not a loss
// (a sender cancels its stream when a Send is cancelled). Send and Recv then
// return an *allreduce.PeerError wrapping allreduce.ErrPeerLost with the
// peer's rank and address. A killed process on the same host is seen at
// once (the kernel closes its sockets); a silent one after about
// KeepaliveTime+KeepaliveTimeout. Close lets the data already sent reach
// the peers (for at most a second) before it closes the connections. Messages of another run or an older
// generation are dropped on arrival; newer ones are held, as the contract
// says. gRPC status codes never leave this package.
package grpctransport

//go:generate sh gen.sh
