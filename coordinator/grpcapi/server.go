// Package grpcapi is the gRPC face of the coordinator: the server that
// exposes a coordinator.Service, and the client a worker uses to reach it
// (it implements worker.Coordinator). gRPC status codes live here and
// nowhere else.
package grpcapi

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/internal/craftpb"
)

// ChunkBytes is the payload of one streamed shard or checkpoint message: well
// under gRPC's 4 MiB default limit.
const ChunkBytes = 1 << 20

// tokenKey is the metadata key that carries the join token on every call.
const tokenKey = "craft-token"

// NewServer returns a gRPC server exposing svc. When token is not empty,
// every call must carry it (the client does); others fail Unauthenticated.
func NewServer(svc *coordinator.Service, token string, log *slog.Logger) *grpc.Server {
	if log == nil {
		log = slog.Default()
	}
	auth := func(ctx context.Context) error {
		if token == "" {
			return nil
		}
		md, _ := metadata.FromIncomingContext(ctx)
		got := md.Get(tokenKey)
		if len(got) != 1 || subtle.ConstantTimeCompare([]byte(got[0]), []byte(token)) != 1 {
			return status.Error(codes.Unauthenticated, "missing or wrong join token (cluster.join_token)")
		}
		return nil
	}
	srv := grpc.NewServer(
		grpc.UnaryInterceptor(func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := auth(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}),
		grpc.StreamInterceptor(func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := auth(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 5 * time.Second, Timeout: 3 * time.Second}),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: time.Second, PermitWithoutStream: true}),
	)
	craftpb.RegisterCoordinatorServer(srv, &server{svc: svc, log: log})
	return srv
}

type server struct {
	craftpb.UnimplementedCoordinatorServer
	svc *coordinator.Service
	log *slog.Logger
}

// code maps the coordinator's errors onto gRPC status codes.
func code(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok && status.Code(err) != codes.Unknown {
		return err
	}
	c := codes.Internal
	switch {
	case errors.Is(err, coordinator.ErrToken):
		c = codes.Unauthenticated
	case errors.Is(err, coordinator.ErrSchema), errors.Is(err, coordinator.ErrConfigMismatch):
		c = codes.FailedPrecondition
	case errors.Is(err, coordinator.ErrFull):
		c = codes.ResourceExhausted
	case errors.Is(err, coordinator.ErrDuplicate):
		c = codes.AlreadyExists
	case errors.Is(err, coordinator.ErrNoCheckpoint), errors.Is(err, coordinator.ErrUnknownWorker):
		c = codes.NotFound
	case errors.Is(err, coordinator.ErrNoShard), errors.Is(err, errBadRequest):
		c = codes.InvalidArgument
	case errors.Is(err, context.Canceled):
		c = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		c = codes.DeadlineExceeded
	}
	return status.Error(c, err.Error())
}

// errBadRequest marks a malformed message; the error names the field.
var errBadRequest = errors.New("bad request")

func badRequest(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

func (s *server) Join(_ context.Context, req *craftpb.JoinRequest) (*craftpb.JoinResponse, error) {
	switch {
	case req.GetWorkerId() == "":
		return nil, code(badRequest("worker_id is empty"))
	case len(req.GetWorkerId()) > 256:
		return nil, code(badRequest("worker_id is longer than 256 bytes"))
	case req.GetRingAddr() == "":
		return nil, code(badRequest("ring_addr is empty"))
	}
	r, err := s.svc.Join(coordinator.JoinRequest{ID: req.GetWorkerId(), RingAddr: req.GetRingAddr(), SchemaHash: req.GetSchemaHash(), Token: req.GetToken()})
	if err != nil {
		return nil, code(err)
	}
	return &craftpb.JoinResponse{WorkerId: r.ID, Run: r.Run, Config: r.Config, ConfigHash: r.ConfigHash, Manifest: r.Manifest, GossipSeed: r.GossipSeed}, nil
}

func (s *server) Session(stream grpc.BidiStreamingServer[craftpb.WorkerMessage, craftpb.CoordinatorMessage]) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	id := first.GetHello().GetWorkerId()
	if id == "" {
		return code(badRequest("the first session message must be a hello with a worker_id"))
	}
	mb, err := s.svc.Attach(id)
	if err != nil {
		return code(err)
	}
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	sendErr := make(chan error, 1)
	go func() {
		for {
			a, ok := mb.Next(ctx)
			if !ok {
				sendErr <- nil
				return
			}
			if err := stream.Send(&craftpb.CoordinatorMessage{Plan: toPlan(a)}); err != nil {
				sendErr <- err
				return
			}
		}
	}()
	recvErr := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			if r := m.GetReport(); r != nil {
				s.svc.Report(id, fromReport(r))
			}
		}
	}()
	select {
	case err = <-recvErr:
	case err = <-sendErr:
	}
	why := "session ended"
	if err != nil && !errors.Is(err, io.EOF) {
		why = err.Error()
	}
	s.svc.Leave(id, why)
	cancel()
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func toPlan(a coordinator.Assignment) *craftpb.Plan {
	p := &craftpb.Plan{
		Gen: a.Gen, Rank: int32(a.Rank), ShareOffset: int64(a.ShareOffset), ShareSize: int64(a.ShareSize),
		StartStep: int64(a.Start), UntilStep: int64(a.Until), Done: a.Done,
	}
	for _, m := range a.Ring {
		p.Ring = append(p.Ring, &craftpb.Peer{WorkerId: m.ID, RingAddr: m.RingAddr})
	}
	return p
}

func fromReport(r *craftpb.StepReport) coordinator.Report {
	ms := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	out := coordinator.Report{
		Gen: r.GetGen(), Step: int(r.GetStep()), Loss: r.GetLoss(), Tokens: int(r.GetTokens()),
		Duration: ms(r.GetComputeMs()) + ms(r.GetAllreduceMs()) + ms(r.GetUpdateMs()),
		Compute:  ms(r.GetComputeMs()), AllReduce: ms(r.GetAllreduceMs()), Update: ms(r.GetUpdateMs()), Stopped: r.GetStopped(), Failed: r.GetFailed(),
	}
	if e := r.GetEval(); e != nil {
		out.HasEval, out.EvalLoss, out.EvalAcc = true, e.GetLoss(), e.GetAccuracy()
	}
	return out
}

func (s *server) GetManifest(context.Context, *craftpb.GetManifestRequest) (*craftpb.GetManifestResponse, error) {
	return &craftpb.GetManifestResponse{Manifest: s.svc.Manifest()}, nil
}

func (s *server) FetchShard(req *craftpb.ShardRequest, stream grpc.ServerStreamingServer[craftpb.ShardChunk]) error {
	data, err := s.svc.Shard(int(req.GetIndex()))
	if err != nil {
		return code(err)
	}
	sum := sha256.Sum256(data)
	for off := 0; off == 0 || off < len(data); off += ChunkBytes {
		end := min(off+ChunkBytes, len(data))
		c := &craftpb.ShardChunk{Data: data[off:end]}
		if off == 0 {
			c.Total = int64(len(data))
		}
		if end == len(data) {
			c.Sha256 = hex.EncodeToString(sum[:])
		}
		if err := stream.Send(c); err != nil {
			return err
		}
	}
	return nil
}

func (s *server) PutCheckpoint(stream grpc.ClientStreamingServer[craftpb.CheckpointChunk, craftpb.PutCheckpointResponse]) error {
	var a assembler
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if err := a.add(m); err != nil {
			return code(err)
		}
	}
	c, err := a.checkpoint()
	if err != nil {
		return code(err)
	}
	if err := s.svc.Commit(stream.Context(), c); err != nil {
		return code(err)
	}
	return stream.SendAndClose(&craftpb.PutCheckpointResponse{Step: c.Step})
}

func (s *server) GetCheckpoint(req *craftpb.GetCheckpointRequest, stream grpc.ServerStreamingServer[craftpb.CheckpointChunk]) error {
	c, err := s.svc.Checkpoint(stream.Context(), req.GetStep())
	if err != nil {
		return code(err)
	}
	return sendCheckpoint(c, stream.Send)
}
