package coordinator

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
)

// Service errors, beside the planner's.
var (
	// ErrToken: the join token is missing or wrong.
	ErrToken = errors.New("coordinator: bad join token")
	// ErrSchema: the worker's binary reads configurations differently.
	ErrSchema = errors.New("coordinator: the worker's config schema differs from the coordinator's")
	// ErrUnknownWorker: a session or report from a worker that has not joined.
	ErrUnknownWorker = errors.New("coordinator: unknown worker")
	// ErrNoShard: a shard index outside the manifest.
	ErrNoShard = errors.New("coordinator: no such shard")
	// ErrConfigMismatch: a checkpoint of another configuration.
	ErrConfigMismatch = errors.New("coordinator: checkpoint of another configuration")
)

// ServiceConfig configures a Service.
type ServiceConfig struct {
	Conf       conf.Config      // the run
	Source     dataset.Source   // its dataset, opened as the workers' replicas are built (worker.OpenSource)
	Store      Store            // where checkpoints are committed
	LeaseSteps int              // steps workers may run ahead of the last report; 0 = 64
	ShardBytes int              // target bytes per dataset shard; 0 = 1 MiB
	Logger     *slog.Logger     // nil = slog.Default()
	Now        func() time.Time // the clock of last_seen; nil = time.Now
	// OnReport, when set, sees every report as it arrives (tests and
	// progress displays); it must not block.
	OnReport func(worker string, r Report)
}

// JoinRequest and JoinReply are a worker's introduction and the answer.
type JoinRequest struct {
	ID, RingAddr, SchemaHash, Token string
}

// JoinReply tells a worker what the run is.
type JoinReply struct {
	ID         string
	Run        uint64
	Config     []byte
	ConfigHash string
	Manifest   []byte
	GossipSeed string
}

// Report is a worker's account of a step.
type Report struct {
	Gen      uint64
	Step     int
	Loss     float64
	Tokens   int
	Duration time.Duration // compute + all-reduce + update
	// The parts of Duration, when the worker reports them: forward and
	// backward, the wait for the gradient's sum after backward, the update.
	Compute, AllReduce, Update time.Duration
	EvalLoss                   float64 // set (> 0) after an evaluation
	EvalAcc                    float64
	HasEval                    bool
	Stopped                    bool
	Failed                     bool // the worker's generation failed: replan
}

// Assignment is a plan as one worker sees it.
type Assignment struct {
	Plan
	Rank                   int
	ShareOffset, ShareSize int
}

// Service is the coordinator of one run: it admits workers, tells them
// what to train (the Planner's decisions), collects their reports, serves
// the dataset shards and commits their checkpoints. The gRPC server in
// grpcapi and the HTTP handler are thin layers over it. Safe for concurrent
// use.
type Service struct {
	cfg      ServiceConfig
	log      *slog.Logger
	yaml     []byte
	hash     string
	run      uint64
	manifest []byte
	shards   [][]byte
	gossip   string

	mu       sync.Mutex
	planner  *Planner
	sessions map[string]*Mailbox
	workers  map[string]*workerState
	loss     float64
	step     int
	valLoss  float64
	valAcc   float64
	tokens   int64
	done     chan struct{}
	started  time.Time
}

type workerState struct {
	id, addr   string
	step       int
	tokensPerS float64
	lastSeen   time.Time
	// Moving averages of the step's parts, in ms (WorkerStatus).
	computeMs, allReduceMs, updateMs float64
	timed                            bool // whether they hold a report yet
}

// stepTimeWeight is the weight of the newest step in the moving averages of
// a worker's step times: about the last 10 steps count.
const stepTimeWeight = 0.1

// addStepTimes folds a step's parts into the moving averages.
func (w *workerState) addStepTimes(r Report) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	c, a, u := ms(r.Compute), ms(r.AllReduce), ms(r.Update)
	if !w.timed {
		w.computeMs, w.allReduceMs, w.updateMs, w.timed = c, a, u, true
		return
	}
	w.computeMs += stepTimeWeight * (c - w.computeMs)
	w.allReduceMs += stepTimeWeight * (a - w.allReduceMs)
	w.updateMs += stepTimeWeight * (u - w.updateMs)
}

// NewService prepares the run of cfg.Conf: it opens and shards the dataset
// and reads the store's latest checkpoint, which the run resumes from.
func NewService(ctx context.Context, cfg ServiceConfig) (*Service, error) {
	if cfg.Store == nil {
		return nil, errors.New("coordinator: ServiceConfig.Store is nil")
	}
	if cfg.LeaseSteps == 0 {
		cfg.LeaseSteps = 64
	}
	if cfg.ShardBytes == 0 {
		cfg.ShardBytes = 1 << 20
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	c := cfg.Conf
	s := &Service{
		cfg: cfg, log: cfg.Logger, yaml: c.YAML(), hash: c.Hash(),
		sessions: map[string]*Mailbox{}, workers: map[string]*workerState{},
		done: make(chan struct{}), started: cfg.Now(),
	}
	h := fnv.New64a()
	h.Write([]byte(c.Run.Name + "\x00" + s.hash))
	s.run = h.Sum64()

	src := cfg.Source
	if src == nil {
		return nil, errors.New("coordinator: ServiceConfig.Source is nil")
	}
	m, shards, err := dataset.Pack(src, dataset.SamplesPerShard(src, cfg.ShardBytes))
	if err != nil {
		return nil, fmt.Errorf("shard dataset: %w", err)
	}
	if s.manifest, err = m.MarshalBinary(); err != nil {
		return nil, err
	}
	s.shards = shards

	start := 0
	switch cp, err := cfg.Store.Latest(ctx); {
	case err == nil:
		if cp.ConfigHash != s.hash {
			s.log.Warn("resuming from a checkpoint of another configuration", "checkpoint_hash", cp.ConfigHash, "config_hash", s.hash)
		}
		start = int(cp.Step)
	case !errors.Is(err, ErrNoCheckpoint):
		return nil, err
	}
	s.step = start
	s.planner = NewPlanner(PlannerConfig{
		MinWorkers: c.Cluster.MinWorkers, MaxWorkers: c.Cluster.MaxWorkers,
		TotalSteps: c.Train.Steps, LeaseSteps: cfg.LeaseSteps, StartStep: start,
	})
	if s.planner.Done() {
		close(s.done)
	}
	s.log.Info("run ready", "run", c.Run.Name, "steps", c.Train.Steps, "from_step", start,
		"shards", len(shards), "train_samples", src.Len(dataset.Train), "min_workers", c.Cluster.MinWorkers)
	return s, nil
}

// SetGossipSeed sets the membership address joiners are told.
func (s *Service) SetGossipSeed(addr string) {
	s.mu.Lock()
	s.gossip = addr
	s.mu.Unlock()
}

// Run returns the run's id.
func (s *Service) Run() uint64 { return s.run }

// Done is closed when the run is complete: its last checkpoint committed.
func (s *Service) Done() <-chan struct{} { return s.done }

// Manifest returns the encoded dataset manifest.
func (s *Service) Manifest() []byte { return s.manifest }

// Shard returns the bytes of shard i.
func (s *Service) Shard(i int) ([]byte, error) {
	if i < 0 || i >= len(s.shards) {
		return nil, fmt.Errorf("%w: %d of %d", ErrNoShard, i, len(s.shards))
	}
	return s.shards[i], nil
}

// Join admits a worker.
func (s *Service) Join(req JoinRequest) (JoinReply, error) {
	if want := s.cfg.Conf.Cluster.JoinToken; want != "" && subtle.ConstantTimeCompare([]byte(req.Token), []byte(want)) != 1 {
		return JoinReply{}, ErrToken
	}
	if req.SchemaHash != conf.SchemaHash() {
		return JoinReply{}, fmt.Errorf("%w (worker %s, coordinator %s): run the same craft version", ErrSchema, req.SchemaHash, conf.SchemaHash())
	}
	if req.ID == "" || req.RingAddr == "" {
		return JoinReply{}, errors.New("coordinator: join needs a worker id and a ring address")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plan, err := s.planner.Step(Joined{Member{ID: req.ID, RingAddr: req.RingAddr}})
	if err != nil {
		return JoinReply{}, err
	}
	s.workers[req.ID] = &workerState{id: req.ID, addr: req.RingAddr, lastSeen: s.cfg.Now()}
	s.log.Info("worker joined", "worker", req.ID, "ring_addr", req.RingAddr, "workers", len(s.planner.Members()))
	s.publish(plan)
	return JoinReply{ID: req.ID, Run: s.run, Config: s.yaml, ConfigHash: s.hash, Manifest: s.manifest, GossipSeed: s.gossip}, nil
}

// Attach opens a worker's session: the returned mailbox receives every
// assignment meant for it, the current one first.
func (s *Service) Attach(id string) (*Mailbox, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.workers[id]; !ok {
		return nil, fmt.Errorf("%w %q: join first", ErrUnknownWorker, id)
	}
	mb := newMailbox()
	s.sessions[id] = mb
	if p := s.planner.Plan(); p != nil {
		if a, ok := assignment(p, id, s.cfg.Conf.Train.GlobalBatch); ok {
			mb.put(a)
		}
	}
	return mb, nil
}

// Leave removes a worker whose session ended or whose node failed. It is
// idempotent.
func (s *Service) Leave(id, why string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.workers[id]; !ok {
		return
	}
	delete(s.workers, id)
	if mb := s.sessions[id]; mb != nil {
		mb.close()
		delete(s.sessions, id)
	}
	plan, _ := s.planner.Step(Failed{ID: id})
	level := slog.LevelWarn
	if s.planner.Done() {
		level = slog.LevelInfo // workers leave a finished run
	}
	s.log.Log(context.Background(), level, "worker gone", "worker", id, "why", why, "workers", len(s.planner.Members()))
	s.publish(plan)
}

// Report records a worker's step.
func (s *Service) Report(id string, r Report) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.workers[id]
	if !ok {
		return
	}
	if s.cfg.OnReport != nil {
		s.cfg.OnReport(id, r)
	}
	w.lastSeen = s.cfg.Now()
	if r.Step > w.step && r.Duration > 0 {
		w.tokensPerS = float64(r.Tokens) / r.Duration.Seconds()
	}
	if r.Step > w.step && !r.HasEval && r.Compute+r.AllReduce+r.Update > 0 {
		w.addStepTimes(r)
	}
	w.step = max(w.step, r.Step)
	if !r.HasEval {
		s.tokens += int64(r.Tokens)
	}
	if r.Step >= s.step {
		s.step, s.loss = r.Step, r.Loss
	}
	if r.HasEval {
		s.valLoss, s.valAcc = r.EvalLoss, r.EvalAcc
	}
	plan, _ := s.planner.Step(Reported{ID: id, Gen: r.Gen, Step: r.Step, Stopped: r.Stopped, Failed: r.Failed})
	s.publish(plan)
}

// Checkpoint returns the committed checkpoint of step, or the latest for 0.
func (s *Service) Checkpoint(ctx context.Context, step uint64) (*Checkpoint, error) {
	if step == 0 {
		return s.cfg.Store.Latest(ctx)
	}
	return s.cfg.Store.Load(ctx, step)
}

// Commit saves a checkpoint a worker sent; once it is in the store the
// planner may start generations from it.
func (s *Service) Commit(ctx context.Context, c *Checkpoint) error {
	if c.ConfigHash != s.hash {
		return fmt.Errorf("%w: hash %s, the run's is %s", ErrConfigMismatch, c.ConfigHash, s.hash)
	}
	if err := s.cfg.Store.Save(ctx, c); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	plan, _ := s.planner.Step(Committed{Step: int(c.Step)})
	s.log.Info("checkpoint committed", "step", c.Step, "bytes", c.Size())
	s.publish(plan)
	return nil
}

// publish hands plan to the workers of its ring. s.mu is held.
func (s *Service) publish(p *Plan) {
	if p == nil {
		return
	}
	if p.Done {
		select {
		case <-s.done:
		default:
			s.log.Info("run complete", "step", p.Start)
			close(s.done)
		}
	} else {
		s.log.Debug("plan", "gen", p.Gen, "workers", len(p.Ring), "start", p.Start, "until", p.Until)
	}
	for id, mb := range s.sessions {
		if a, ok := assignment(p, id, s.cfg.Conf.Train.GlobalBatch); ok {
			mb.put(a)
		} else if p.Done {
			mb.put(Assignment{Plan: *p, Rank: -1})
		}
	}
}

// assignment is p as worker id sees it; false if id is not in its ring.
func assignment(p *Plan, id string, globalBatch int) (Assignment, bool) {
	for r, m := range p.Ring {
		if m.ID == id {
			a := Assignment{Plan: *p, Rank: r}
			a.ShareOffset, a.ShareSize = dataset.Share(globalBatch, len(p.Ring), r)
			return a, true
		}
	}
	return Assignment{}, false
}

// Mailbox holds the latest assignment for one worker: a newer one replaces
// one not yet taken, since plans supersede each other.
type Mailbox struct {
	mu      sync.Mutex
	pending *Assignment
	closed  bool
	notify  chan struct{}
}

func newMailbox() *Mailbox { return &Mailbox{notify: make(chan struct{}, 1)} }

func (m *Mailbox) put(a Assignment) {
	m.mu.Lock()
	m.pending = &a
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *Mailbox) close() {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

// Next waits for the next assignment. It returns false when the worker was
// removed or ctx ended.
func (m *Mailbox) Next(ctx context.Context) (Assignment, bool) {
	for {
		m.mu.Lock()
		if m.pending != nil {
			a := *m.pending
			m.pending = nil
			m.mu.Unlock()
			return a, true
		}
		closed := m.closed
		m.mu.Unlock()
		if closed {
			return Assignment{}, false
		}
		select {
		case <-ctx.Done():
			return Assignment{}, false
		case <-m.notify:
		}
	}
}
