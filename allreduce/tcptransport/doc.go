// Package tcptransport is an allreduce.Transport (and allreduce.Lender)
// over plain TCP: a data plane beside gRPC that moves the ring's bytes with
// as few copies and system calls as the kernel allows, as gloo does. gRPC
// (allreduce/grpctransport) stays the default and the control plane; this
// package is the measured proposal (see `craft bench allreduce --transport
// tcp`).
//
//	cfg := tcptransport.DefaultConfig()
//	cfg.Secret = joinToken // every rank of the run uses the same one
//	tr, err := tcptransport.New(cfg)
//	...
//	ring := allreduce.New(tr, allreduce.DefaultConfig())
//	err = ring.Configure(ctx, allreduce.Membership{Run: run, Gen: 1, Rank: r, Peers: addrs})
//
// # Connections
//
// Each Transport listens on one socket for its whole life. To send to a
// peer it dials two connections under a fresh session id: a data
// connection that carries every data message to that peer, in order,
// whatever the generation, and a control connection for aborts and
// heartbeats. Aborts therefore never wait behind data or its flow control,
// and the receiver queues them (a few, copied) and hands them out before
// any data. Configure keeps the connections to peers that are still alive,
// dials new ones in the background, and closes the rest. Connections are
// one-way: the sender writes frames, the receiver only answers heartbeats
// on the control connection.
//
// Peers on the same host (Config.LocalSockets, Linux): the transport also
// listens on the abstract Unix socket @craft-ring/<its address>, and dials
// a peer whose IP belongs to this host there first, over TCP if that fails.
// A Unix stream socket costs the kernel about half the CPU per byte of TCP
// loopback; the handshake, frames and failure handling are the same.
//
// # Bytes on the wire
//
// A frame is a 40-byte little-endian header (magic, version, kind, sender
// rank, run, generation, step, segment, payload length; header.go) and the
// payload. The receiver checks magic, version, kind and length (at most
// MaxPayloadBytes for data, 1 KiB or MaxPayloadBytes for an abort, 0 for a
// heartbeat) before it reads a payload; a bad header is a protocol error
// (ErrBadFrame, naming the field) that drops the connection, and the peer
// counts as lost.
//
// Copies per byte, in user space: none on either side. Send writes the
// header and the caller's payload with one writev (net.Buffers) straight
// from the caller's slice, in the caller's goroutine; the kernel copies it
// into the socket buffer. Recv reads the socket itself (there is no reader
// goroutine for data): the header into a small array, then the payload
// straight into dst; RecvLend reads it into the link's own buffer (sized
// once) and lends that. So the kernel's copy from the socket buffer is the
// only one on receipt, and the Ring's all-gather segments land in its
// buffer directly. Nothing is allocated per message.
//
// # Flow control and buffers
//
// The socket buffers (Config.SocketBufferBytes, at both ends) are the
// per-peer queue: Send blocks in writev while they are full. When a Send's
// context ends in the middle of a message, the unsent tail is copied aside
// (the only copy, and only then) and a goroutine finishes the message so
// the stream stays whole; Send returns at once and the next Send waits for
// that goroutine. A Recv whose context ends, or that is closed, while a
// payload is arriving consumes that message (the next Recv skips the rest
// of it): the Ring spends the generation when an operation fails, so
// nothing waits for it. Blocked reads and writes are interrupted by a
// deadline in the past (context.AfterFunc), which costs nothing while
// nothing is cancelled.
//
// # Authentication
//
// Every connection starts with a handshake (handshake.go) in which both
// ends prove they know Config.Secret, the run's join token: HMAC-SHA256
// over fresh random nonces from both sides, the connection's role, the
// session and both advertised addresses, compared in constant time. The
// dialer also checks that the endpoint is the address it meant to reach.
// A connection that fails (another secret, garbage, a timeout) is closed,
// logged and counted (Refused). An empty Secret must be asked for with
// Config.Insecure (tests, benchmarks); the zero Config does not validate.
// The handshake authenticates the two ends of a connection; it neither
// encrypts nor protects the frames after it, so an attacker on the path
// could still read or alter them: run on a trusted network, as gloo does
// (or add TLS, at the cost of a copy).
//
// # Failures
//
// A peer counts as lost when its data or control connection fails (its
// process died, its endpoint closed: the kernel resets or closes the
// sockets, seen at once), when it sends a bad frame, or when its control
// connection is silent for Config.PeerTimeout (heartbeats every
// HeartbeatInterval, answered by the receiver, cover a hung process or a
// cut network). Send and Recv then return an *allreduce.PeerError wrapping
// allreduce.ErrPeerLost with the peer's rank and address; a Recv still
// returns what arrived before the loss. A lost peer does not close the
// transport: the next Configure dials it again (a new session). Close
// closes the connections normally, so the kernel still delivers what was
// written before. Messages of another run or an older generation are
// dropped on receipt (their payload is read and discarded); a newer one is
// held, its payload still in the socket, as the contract says.
package tcptransport
