package grpcapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"

	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/internal/craftpb"
	"github.com/craftml/craft/worker"
)

// Client is a worker's connection to its coordinator; it implements
// worker.Coordinator. Safe for concurrent use.
type Client struct {
	conn  *grpc.ClientConn
	c     craftpb.CoordinatorClient
	token string
}

var _ worker.Coordinator = (*Client)(nil)

// Dial connects to the coordinator at addr (host:port). token is sent with
// every call.
func Dial(addr, token string) (*Client, error) {
	conn, err := grpc.NewClient(addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: 5 * time.Second, Timeout: 3 * time.Second, PermitWithoutStream: true}),
	)
	if err != nil {
		return nil, fmt.Errorf("dial coordinator %s: %w", addr, err)
	}
	return &Client{conn: conn, c: craftpb.NewCoordinatorClient(conn), token: token}, nil
}

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

func (c *Client) ctx(ctx context.Context) context.Context {
	if c.token == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, tokenKey, c.token)
}

// Join admits the worker. It waits for the coordinator to be reachable
// while ctx allows.
func (c *Client) Join(ctx context.Context, req worker.JoinRequest) (worker.JoinInfo, error) {
	r, err := c.c.Join(c.ctx(ctx), &craftpb.JoinRequest{WorkerId: req.ID, RingAddr: req.RingAddr, SchemaHash: req.SchemaHash, Token: req.Token},
		grpc.WaitForReady(true))
	if err != nil {
		return worker.JoinInfo{}, err
	}
	return worker.JoinInfo{WorkerID: r.GetWorkerId(), Run: r.GetRun(), Config: r.GetConfig(), ConfigHash: r.GetConfigHash(), Manifest: r.GetManifest(), GossipSeed: r.GetGossipSeed()}, nil
}

// Session opens the worker's plan/report stream.
func (c *Client) Session(ctx context.Context, id string) (worker.Session, error) {
	ctx, cancel := context.WithCancel(c.ctx(ctx))
	st, err := c.c.Session(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := st.Send(&craftpb.WorkerMessage{Msg: &craftpb.WorkerMessage_Hello{Hello: &craftpb.Hello{WorkerId: id}}}); err != nil {
		cancel()
		return nil, err
	}
	return &session{st: st, cancel: cancel}, nil
}

type session struct {
	st     grpc.BidiStreamingClient[craftpb.WorkerMessage, craftpb.CoordinatorMessage]
	cancel context.CancelFunc
}

func (s *session) Recv() (worker.Plan, error) {
	m, err := s.st.Recv()
	if err != nil {
		return worker.Plan{}, err
	}
	p := m.GetPlan()
	if p == nil {
		return worker.Plan{}, errors.New("coordinator sent a session message without a plan")
	}
	out := worker.Plan{Gen: p.GetGen(), Rank: int(p.GetRank()), Start: int(p.GetStartStep()), Until: int(p.GetUntilStep()), Done: p.GetDone()}
	for _, peer := range p.GetRing() {
		out.Peers = append(out.Peers, peer.GetRingAddr())
	}
	if !out.Done && (out.Rank < 0 || out.Rank >= len(out.Peers)) {
		return worker.Plan{}, fmt.Errorf("coordinator sent plan rank %d for a ring of %d", out.Rank, len(out.Peers))
	}
	return out, nil
}

func (s *session) Send(r worker.Report) error {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	m := &craftpb.StepReport{
		Gen: r.Gen, Step: int64(r.Step), Loss: r.Loss, Tokens: int64(r.Tokens),
		ComputeMs: ms(r.Compute), AllreduceMs: ms(r.Reduce), UpdateMs: ms(r.Update), Stopped: r.Stopped, Failed: r.Failed,
	}
	if e := r.Eval; e != nil {
		m.Eval = &craftpb.EvalResult{Step: int64(e.Step), Loss: e.Loss, Accuracy: e.Accuracy, Samples: int64(e.Samples)}
	}
	return s.st.Send(&craftpb.WorkerMessage{Msg: &craftpb.WorkerMessage_Report{Report: m}})
}

func (s *session) Close() error {
	err := s.st.CloseSend()
	s.cancel()
	return err
}

// Fetch downloads shard index and checks its SHA-256.
func (c *Client) Fetch(ctx context.Context, index int) ([]byte, error) {
	st, err := c.c.FetchShard(c.ctx(ctx), &craftpb.ShardRequest{Index: int32(index)})
	if err != nil {
		return nil, err
	}
	var data []byte
	var sum string
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("shard %d: %w", index, err)
		}
		if data == nil && m.GetTotal() > 0 && m.GetTotal() <= MaxBlobBytes {
			data = make([]byte, 0, m.GetTotal())
		}
		data = append(data, m.GetData()...)
		if m.GetSha256() != "" {
			sum = m.GetSha256()
		}
	}
	got := sha256.Sum256(data)
	if hex.EncodeToString(got[:]) != sum {
		return nil, fmt.Errorf("shard %d: sha256 %x, the coordinator sent %q", index, got, sum)
	}
	return data, nil
}

// GetCheckpoint downloads the committed checkpoint of step (0: the latest).
func (c *Client) GetCheckpoint(ctx context.Context, step uint64) (*worker.Snapshot, error) {
	st, err := c.c.GetCheckpoint(c.ctx(ctx), &craftpb.GetCheckpointRequest{Step: step})
	if err != nil {
		return nil, err
	}
	var a assembler
	for {
		m, err := st.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("checkpoint of step %d: %w", step, err)
		}
		if err := a.add(m); err != nil {
			return nil, err
		}
	}
	cp, err := a.checkpoint()
	if err != nil {
		return nil, err
	}
	return &worker.Snapshot{Step: cp.Step, ConfigHash: cp.ConfigHash, Config: cp.Config, Tokenizer: cp.Tokenizer,
		Params: cp.Params, Optim: cp.Optim, Trainer: cp.Trainer}, nil
}

// PutCheckpoint uploads a checkpoint and returns once the coordinator has
// committed it.
func (c *Client) PutCheckpoint(ctx context.Context, s *worker.Snapshot) error {
	st, err := c.c.PutCheckpoint(c.ctx(ctx))
	if err != nil {
		return err
	}
	cp := &coordinator.Checkpoint{Step: s.Step, ConfigHash: s.ConfigHash, Config: s.Config, Tokenizer: s.Tokenizer,
		Params: s.Params, Optim: s.Optim, Trainer: s.Trainer}
	if err := sendCheckpoint(cp, st.Send); err != nil {
		return fmt.Errorf("send checkpoint of step %d: %w", s.Step, err)
	}
	if _, err := st.CloseAndRecv(); err != nil {
		return fmt.Errorf("commit checkpoint of step %d: %w", s.Step, err)
	}
	return nil
}
