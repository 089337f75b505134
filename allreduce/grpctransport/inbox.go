package grpctransport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	grpcpeer "google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/grpctransport/ringpb"
)

// inbox queues what one sender address sent to this endpoint: data frames
// (bounded; a full queue stops the reading of the stream, and so, through
// gRPC flow control, the sender) and aborts (unbounded, delivered first).
type inbox struct {
	addr   string
	notify chan struct{} // kicked when something arrives or the stream ends
	space  chan struct{} // kicked when a data frame leaves

	mu      sync.Mutex
	data    []*inFrame // circular, len = capacity
	head, n int
	aborts  []abortMsg
	lost    error // the sender's connection ended; cleared by reconfigure
}

// abortMsg is a received abort (small: its payload is copied).
type abortMsg struct {
	hdr     frameHeader
	payload []byte
}

func newInbox(addr string, capacity int) *inbox {
	return &inbox{
		addr:   addr,
		notify: make(chan struct{}, 1),
		space:  make(chan struct{}, 1),
		data:   make([]*inFrame, capacity),
	}
}

func kick(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// stale reports whether a message of h is refused under (run, gen).
func stale(h frameHeader, run, gen uint64) bool { return h.Run != run || h.Generation < gen }

// push queues f, waiting while the queue is full. It fails when done or
// closed is.
func (in *inbox) push(done <-chan struct{}, closed <-chan struct{}, f *inFrame) error {
	in.mu.Lock()
	for in.n == len(in.data) {
		in.mu.Unlock()
		select {
		case <-in.space:
		case <-done:
			return errors.New("stream ended")
		case <-closed:
			return allreduce.ErrClosed
		}
		in.mu.Lock()
	}
	in.data[(in.head+in.n)%len(in.data)] = f
	in.n++
	in.mu.Unlock()
	kick(in.notify)
	return nil
}

func (in *inbox) pushAbort(m abortMsg) {
	in.mu.Lock()
	in.aborts = append(in.aborts, m)
	in.mu.Unlock()
	kick(in.notify)
}

// connLost records that the connection the sender used ended.
func (in *inbox) connLost(cause error) {
	in.mu.Lock()
	in.lost = cause
	in.mu.Unlock()
	kick(in.notify)
}

func (in *inbox) lostErr() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.lost
}

// popData removes the head data frame. in.mu held.
func (in *inbox) popData(put func(*inFrame)) {
	put(in.data[in.head])
	in.data[in.head] = nil
	in.head = (in.head + 1) % len(in.data)
	in.n--
	kick(in.space)
}

// take delivers the next message deliverable under (run, gen): aborts
// first, then data; stale messages met on the way are dropped. ok is false
// when nothing is queued. A message of a newer generation is not consumed:
// take returns an error wrapping allreduce.ErrFutureGeneration.
func (in *inbox) take(run, gen uint64, dst []byte, put func(*inFrame)) (h allreduce.Header, n int, err error, ok bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for len(in.aborts) > 0 {
		m := in.aborts[0]
		if stale(m.hdr, run, gen) {
			in.aborts = in.aborts[1:]
			continue
		}
		h = header(m.hdr)
		if m.hdr.Generation > gen {
			return h, 0, fmt.Errorf("%w: %v, configured %d", allreduce.ErrFutureGeneration, h, gen), true
		}
		in.aborts = in.aborts[1:]
		n = copy(dst, m.payload)
		if n < len(m.payload) {
			return h, n, fmt.Errorf("%w: %v: %d bytes into %d", allreduce.ErrMessageTooLarge, h, len(m.payload), len(dst)), true
		}
		return h, n, nil, true
	}
	for in.n > 0 {
		f := in.data[in.head]
		if stale(f.hdr, run, gen) {
			in.popData(put)
			continue
		}
		h = header(f.hdr)
		if f.hdr.Generation > gen {
			return h, 0, fmt.Errorf("%w: %v, configured %d", allreduce.ErrFutureGeneration, h, gen), true
		}
		size := f.payLen
		if size > len(dst) {
			in.popData(put)
			return h, 0, fmt.Errorf("%w: %v: %d bytes into %d", allreduce.ErrMessageTooLarge, h, size, len(dst)), true
		}
		f.copyPayload(dst[:size])
		in.popData(put)
		return h, size, nil, true
	}
	return allreduce.Header{}, 0, nil, false
}

// reconfigure drops the messages refused under (run, gen) and forgets a
// lost connection (the new generation starts afresh).
func (in *inbox) reconfigure(run, gen uint64, put func(*inFrame)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	keep := in.aborts[:0]
	for _, m := range in.aborts {
		if !stale(m.hdr, run, gen) {
			keep = append(keep, m)
		}
	}
	clear(in.aborts[len(keep):])
	in.aborts = keep
	k := 0
	for i := range in.n {
		f := in.data[(in.head+i)%len(in.data)]
		if stale(f.hdr, run, gen) {
			put(f)
			continue
		}
		in.data[(in.head+k)%len(in.data)] = f
		k++
	}
	for i := k; i < in.n; i++ {
		in.data[(in.head+i)%len(in.data)] = nil
	}
	if k < in.n {
		kick(in.space)
	}
	in.n = k
	in.lost = nil
}

// drain frees every queued frame (Close).
func (in *inbox) drain(put func(*inFrame)) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for in.n > 0 {
		in.popData(put)
	}
	in.aborts = nil
}

func header(h frameHeader) allreduce.Header {
	return allreduce.Header{Kind: allreduce.Kind(h.Kind), Run: h.Run, Gen: h.Generation, Step: h.Step, From: h.Sender, Seg: h.Segment}
}

// service is the gRPC server side of the ring service.
type service struct {
	ringpb.UnimplementedRingServer
	t *Transport
}

// senderAddr reads the sender's address from the call's metadata.
func senderAddr(ctx context.Context) (string, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(mdAddr); len(v) == 1 && v[0] != "" {
		return v[0], nil
	}
	return "", status.Errorf(codes.InvalidArgument, "grpctransport: metadata %q missing", mdAddr)
}

// inboxOf returns the inbox of a sender address, or an error once closed.
func (t *Transport) inboxOf(addr string) (*inbox, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.byAddr == nil {
		return nil, status.Error(codes.Unavailable, "grpctransport: closed")
	}
	return t.inboxLocked(addr), nil
}

// refuse reports whether h is stale under the current generation (counting
// it); before the first Configure nothing is refused.
func (t *Transport) refuse(h frameHeader) bool {
	if f := t.fence.Load(); f != nil && stale(h, f.run, f.gen) {
		t.refused.Add(1)
		return true
	}
	return false
}

// Stream receives one sender's data stream into its inbox.
func (s *service) Stream(st grpc.ClientStreamingServer[ringpb.Frame, ringpb.Closed]) error {
	t := s.t
	addr, err := senderAddr(st.Context())
	if err != nil {
		return err
	}
	in, err := t.inboxOf(addr)
	if err != nil {
		return err
	}
	if c := connOf(st.Context()); c != nil {
		c.add(in)
	}
	if p, ok := grpcpeer.FromContext(st.Context()); ok && p.LocalAddr != nil {
		t.log.Debug("grpctransport: data stream from peer", "peer", addr, "over", p.LocalAddr.Network())
	}
	done := st.Context().Done()
	for {
		f := t.getFrame()
		if err := st.RecvMsg(f); err != nil {
			// The end of a stream is not the loss of the peer: a sender
			// cancels its stream when a Send is cancelled, and opens another.
			// The connection tells whether the peer lives (peer.watch).
			t.putFrame(f)
			if errors.Is(err, io.EOF) {
				return st.SendAndClose(&ringpb.Closed{})
			}
			return err
		}
		if t.refuse(f.hdr) {
			t.putFrame(f)
			continue
		}
		if err := in.push(done, t.closed, f); err != nil {
			t.putFrame(f)
			return status.Error(codes.Unavailable, err.Error())
		}
	}
}

// Abort queues one abort message ahead of the sender's data.
func (s *service) Abort(ctx context.Context, fr *ringpb.Frame) (*ringpb.Closed, error) {
	t := s.t
	addr, err := senderAddr(ctx)
	if err != nil {
		return nil, err
	}
	in, err := t.inboxOf(addr)
	if err != nil {
		return nil, err
	}
	h := frameHeader{Run: fr.Run, Generation: fr.Generation, Step: fr.Step, Sender: fr.Sender, Segment: fr.Segment, Kind: fr.Kind}
	if !t.refuse(h) {
		in.pushAbort(abortMsg{hdr: h, payload: fr.Payload})
	}
	return &ringpb.Closed{}, nil
}
