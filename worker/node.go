package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/dataset"
	"github.com/craftml/craft/model"
)

// Coordinator is what a worker needs of the coordinator of its run. The
// gRPC client in coordinator/grpcapi implements it; tests use an in-memory
// one. Methods are safe for concurrent use.
type Coordinator interface {
	// Join admits the worker to the run and tells it what to train.
	Join(ctx context.Context, req JoinRequest) (JoinInfo, error)
	// Session opens the stream of plans to the worker and of reports from
	// it. Closing it (or the worker dying) tells the coordinator the worker
	// is gone.
	Session(ctx context.Context, workerID string) (Session, error)
	// Fetch returns the bytes of dataset shard index (dataset.ShardFetcher).
	Fetch(ctx context.Context, index int) ([]byte, error)
	// GetCheckpoint returns the committed checkpoint of step.
	GetCheckpoint(ctx context.Context, step uint64) (*Snapshot, error)
	// PutCheckpoint hands the coordinator a checkpoint, returning once it is
	// committed.
	PutCheckpoint(ctx context.Context, s *Snapshot) error
}

// Session is one worker's stream with the coordinator. Recv and Send may be
// called concurrently with each other, each from one goroutine.
type Session interface {
	// Recv blocks until the next plan; an error means the session is over.
	Recv() (Plan, error)
	// Send reports a step.
	Send(r Report) error
	// Close ends the session.
	Close() error
}

// JoinRequest introduces a worker.
type JoinRequest struct {
	ID         string // the worker's name, unique in the run
	RingAddr   string // where its ring transport listens, as peers dial it
	SchemaHash string // conf.SchemaHash of its binary: both sides must read configs alike
	Token      string // cluster.join_token
}

// JoinInfo is what the coordinator tells a joining worker.
type JoinInfo struct {
	WorkerID   string // the ID the coordinator knows the worker by
	Run        uint64 // the run's id: it fences all-reduce messages
	Config     []byte // the resolved configuration, YAML
	ConfigHash string // its hash, stamped on checkpoints
	Manifest   []byte // the dataset manifest (dataset.Manifest, encoded)
	GossipSeed string // the coordinator's memberlist address
}

// Plan is one membership generation as a worker sees it. A plan with the
// generation the worker already runs only moves Until.
type Plan struct {
	Gen   uint64   // membership generation
	Peers []string // ring addresses in rank order
	Rank  int      // this worker's rank
	Start int      // the step the generation starts from (a committed checkpoint, or 0)
	Until int      // the worker may run up to this step before it hears again
	Done  bool     // the run is over: exit
}

// Report is what a worker tells the coordinator after a step.
type Report struct {
	Gen     uint64
	Step    int
	Loss    float64
	Tokens  int // loss targets of this worker's share of the step
	Compute time.Duration
	Reduce  time.Duration
	Update  time.Duration
	Eval    *EvalResult // set after an evaluation
	Stopped bool        // a callback (early stopping) ended the run
	Failed  bool        // this worker's generation failed; the coordinator starts another
}

// NodeConfig configures a worker node.
type NodeConfig struct {
	ID         string              // worker name; unique in the run
	Token      string              // join token
	SchemaHash string              // conf.SchemaHash()
	Transport  allreduce.Transport // the ring transport, listening at RingAddr
	RingAddr   string              // advertised ring address (default Transport.Addr())
	// OpenTransport, used when Transport is nil, opens the ring transport
	// once the run's configuration is known (allreduce.transport), after the
	// join and before training; RingAddr must then be set. The Node closes
	// what it opens when Run returns.
	OpenTransport func(conf.Config) (allreduce.Transport, error)
	CacheDir      string // where fetched shards are cached; "" = memory only
	Threads       int    // compute threads of this worker; 0 = all cores
	// ComputeNice is the niceness (1-19) of the thread that trains, below
	// the ring's network threads so their wakeups preempt it (see
	// ComputeNiceDefault); 0 leaves it alone.
	ComputeNice int
	Logger      *slog.Logger
	// OnJoin, when set, is called with the join reply before training
	// starts (cmd starts membership gossip from it).
	OnJoin func(JoinInfo) error
}

// Node is a worker of a distributed run: it joins, fetches the data it is
// assigned, trains its share of every step with its ring neighbours, reports
// and, on rank 0, hands checkpoints to the coordinator.
type Node struct {
	cfg   NodeConfig
	coord Coordinator
	log   *slog.Logger
	ring  *allreduce.Ring

	job     *Job
	tr      *Trainer
	initial *Snapshot // the freshly initialised state, for generations that start at step 0
	info    JoinInfo
	conf    conf.Config

	mu    sync.Mutex
	until int
	wake  chan struct{} // signalled when until grows
}

// NewNode makes a node that talks to coord.
func NewNode(cfg NodeConfig, coord Coordinator) (*Node, error) {
	switch {
	case cfg.ID == "":
		return nil, errors.New("worker: NodeConfig needs an ID")
	case cfg.Transport == nil && cfg.OpenTransport == nil:
		return nil, errors.New("worker: NodeConfig needs a Transport or an OpenTransport")
	case cfg.Transport == nil && cfg.RingAddr == "":
		return nil, errors.New("worker: NodeConfig with OpenTransport needs the RingAddr the transport will listen at")
	}
	if cfg.ComputeNice < 0 || cfg.ComputeNice > 19 {
		return nil, fmt.Errorf("worker: NodeConfig.ComputeNice = %d; want 0 (unchanged) to 19", cfg.ComputeNice)
	}
	if cfg.RingAddr == "" {
		cfg.RingAddr = cfg.Transport.Addr()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Node{cfg: cfg, coord: coord, log: cfg.Logger.With("worker", cfg.ID), wake: make(chan struct{}, 1)}, nil
}

// Run joins the run and trains until the coordinator says it is done (nil),
// ctx ends, or the session with the coordinator breaks.
func (n *Node) Run(ctx context.Context) error {
	info, err := n.coord.Join(ctx, JoinRequest{ID: n.cfg.ID, RingAddr: n.cfg.RingAddr, SchemaHash: n.cfg.SchemaHash, Token: n.cfg.Token})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	n.info = info
	if err := n.setup(ctx); err != nil {
		return err
	}
	if n.cfg.OnJoin != nil {
		if err := n.cfg.OnJoin(info); err != nil {
			return err
		}
	}
	if n.cfg.Transport == nil {
		t, err := n.cfg.OpenTransport(n.conf)
		if err != nil {
			return fmt.Errorf("ring transport (allreduce.transport %s): %w", n.conf.AllReduce.Transport, err)
		}
		defer t.Close()
		n.cfg.Transport = t
	}
	n.ring = allreduce.New(n.cfg.Transport, n.ringConfig())
	defer n.ring.Close()

	sess, err := n.coord.Session(ctx, info.WorkerID)
	if err != nil {
		return fmt.Errorf("open session: %w", err)
	}
	defer sess.Close()
	reports := make(chan Report, 256)
	go n.sendReports(sess, reports)
	defer close(reports)

	var (
		cur    uint64
		cancel context.CancelFunc = func() {}
		done   chan error
	)
	stop := func() {
		cancel()
		if done != nil {
			<-done
			done = nil
		}
	}
	defer stop()
	plans := make(chan Plan)
	recvErr := make(chan error, 1)
	go func() {
		for {
			p, err := sess.Recv()
			if err != nil {
				recvErr <- err
				return
			}
			select {
			case plans <- p:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-recvErr:
			return fmt.Errorf("session with the coordinator: %w", err)
		case err := <-done:
			done = nil
			if err != nil && ctx.Err() == nil {
				// Tell the coordinator: if no worker left (a timeout, a
				// checkpoint that could not be committed), nothing else would
				// start the next generation.
				n.log.Warn("generation failed; asking for the next", "gen", cur, "err", err)
				select {
				case reports <- Report{Gen: cur, Step: n.tr.Step(), Failed: true}:
				default:
				}
			}
		case p := <-plans:
			if p.Done {
				n.log.Info("run complete", "step", n.tr.Step())
				return nil
			}
			if p.Gen == cur {
				n.setUntil(p.Until)
				continue
			}
			stop()
			cur = p.Gen
			n.setUntil(p.Until)
			gctx, gcancel := context.WithCancel(ctx)
			cancel = gcancel
			done = make(chan error, 1)
			go func(p Plan) {
				if err := lowerThreadPriority(n.cfg.ComputeNice); err != nil {
					n.log.Warn("compute priority unchanged", "err", err)
				}
				done <- n.runGeneration(gctx, p, reports)
			}(p)
		}
	}
}

// setup builds the model and data from the join reply.
func (n *Node) setup(ctx context.Context) error {
	c, err := conf.Parse("coordinator", n.info.Config, nil)
	if err != nil {
		return fmt.Errorf("configuration from the coordinator: %w", err)
	}
	if n.cfg.Threads > 0 {
		c.Train.Threads = n.cfg.Threads
	}
	n.conf = c
	m, err := dataset.UnmarshalManifest(n.info.Manifest)
	if err != nil {
		return fmt.Errorf("dataset manifest from the coordinator: %w", err)
	}
	src, err := dataset.NewShardedSource(m, dataset.FetcherFunc(n.coord.Fetch), dataset.ShardedConfig{CacheDir: n.cfg.CacheDir})
	if err != nil {
		return err
	}
	threads := c.Train.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	model.SetThreads(threads)
	// The ring's goroutines need a P beside the compute threads': with
	// GOMAXPROCS equal to them (a worker pinned to one core with --threads
	// 1), every all-reduce message waits until the scheduler preempts the
	// compute goroutine. Measured on the baby config, 2 workers on one core
	// each: the wait for the gradient's sum after backward was ~28 ms a step
	// with GOMAXPROCS 1, ~5 ms with 2 (bench/scaling.sh).
	if runtime.GOMAXPROCS(0) <= threads {
		runtime.GOMAXPROCS(threads + 1)
	}
	if n.job, err = Build(c, src); err != nil {
		return err
	}
	// Summing the gradient during backward pays when the ring's goroutines
	// can run beside the compute, or when the sum takes long enough that
	// hiding it behind backward outweighs the interruptions. On a worker
	// with a single core over the tcp ring neither holds, and summing after
	// backward was faster in 6 of 6 alternating rounds of bench/scaling.sh
	// (5-11 %); over grpc, whose sum of the baby gradient takes 6 ms, it was
	// slower in 6 of 6, and over tcp unpinned on 2 cores slower too (README,
	// "Figures measured so far"; the rounds are in the commit message).
	n.job.SerialReduce = runtime.NumCPU() == 1 && c.AllReduce.Transport == "tcp"
	if n.tr, err = n.job.NewTrainer(0, 1, Local{}); err != nil {
		return err
	}
	if n.initial, err = n.tr.Snapshot(); err != nil {
		return err
	}
	gradSum := "during backward"
	if n.job.SerialReduce {
		gradSum = "after backward"
	}
	n.log.Info("joined", "run", n.info.Run, "model", c.Model.Kind, "params", len(n.job.Model.Arena().Params),
		"train_samples", src.Len(dataset.Train), "shards", len(m.Shards), "threads", threads, "grad_sum", gradSum)
	return nil
}

func (n *Node) ringConfig() allreduce.Config {
	rc := allreduce.DefaultConfig()
	if n.conf.AllReduce.SegmentBytes > 0 {
		rc.SegmentBytes = n.conf.AllReduce.SegmentBytes
	}
	if w, err := allreduce.ParseWire(n.conf.AllReduce.Wire); err == nil {
		rc.Wire = w
	}
	rc.Logger = n.log
	return rc
}

func (n *Node) setUntil(u int) {
	n.mu.Lock()
	n.until = u
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// waitUntil blocks until the plan lets the trainer run past step, and
// returns how far.
func (n *Node) waitUntil(ctx context.Context, step int) (int, error) {
	for {
		n.mu.Lock()
		u := n.until
		n.mu.Unlock()
		if u > step {
			return u, nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-n.wake:
		}
	}
}

// runGeneration configures the ring for p, brings the replica to p.Start
// and trains until the run ends or ctx is cancelled by the next plan.
func (n *Node) runGeneration(ctx context.Context, p Plan, reports chan<- Report) error {
	log := n.log.With("gen", p.Gen, "rank", p.Rank, "ranks", len(p.Peers))
	m := allreduce.Membership{Run: n.info.Run, Gen: p.Gen, Rank: p.Rank, Peers: p.Peers}
	if err := n.ring.Configure(ctx, m); err != nil {
		return err
	}
	if err := n.bringTo(ctx, p.Start); err != nil {
		return err
	}
	if err := n.tr.SetRing(p.Rank, len(p.Peers), RingReducer{Ring: n.ring, Gen: p.Gen}); err != nil {
		return err
	}
	log.Info("generation start", "step", p.Start, "until", p.Until)
	cbs := []Callback{reporter{gen: p.Gen, out: reports}, EarlyStop{Patience: n.conf.Train.EarlyStopPatience}}
	if p.Rank == 0 {
		cbs = append(cbs, SaveCheckpoints{Save: n.coord.PutCheckpoint})
	}
	meta := Snapshot{ConfigHash: n.info.ConfigHash, Config: n.info.Config}
	for n.tr.Step() < n.conf.Train.Steps {
		u, err := n.waitUntil(ctx, n.tr.Step())
		if err != nil {
			return err
		}
		sum, err := n.tr.Run(ctx, RunOptions{Until: min(u, n.conf.Train.Steps), FinalEval: true, EvalAll: n.conf.Data.Kind != "text", Meta: meta}, cbs...)
		if err != nil {
			return err
		}
		if sum.Stopped {
			break
		}
	}
	return nil
}

// bringTo puts the replica in the state of step: as it is when it is
// already there, the initial state for 0, else the committed checkpoint.
func (n *Node) bringTo(ctx context.Context, step int) error {
	if n.tr.Step() == step && step != 0 {
		return nil
	}
	s := n.initial
	if step != 0 {
		var err error
		if s, err = n.coord.GetCheckpoint(ctx, uint64(step)); err != nil {
			return fmt.Errorf("fetch the checkpoint of step %d: %w", step, err)
		}
	}
	if err := n.tr.Restore(s); err != nil {
		return fmt.Errorf("restore step %d: %w", step, err)
	}
	return nil
}

// sendReports forwards reports to the coordinator until out is closed.
func (n *Node) sendReports(sess Session, out <-chan Report) {
	for r := range out {
		if err := sess.Send(r); err != nil {
			n.log.Debug("report not sent", "step", r.Step, "err", err)
		}
	}
}

// reporter queues a report per step and per evaluation; it never blocks
// training (a full queue drops the report: the next one supersedes it).
type reporter struct {
	Hooks
	gen uint64
	out chan<- Report
}

func (r reporter) send(rep Report) {
	select {
	case r.out <- rep:
	default:
	}
}

func (r reporter) OnStep(_ context.Context, _ *Trainer, s StepStats) error {
	r.send(Report{Gen: r.gen, Step: s.Step, Loss: s.Loss, Tokens: s.Local, Compute: s.Compute, Reduce: s.Reduce, Update: s.Update})
	return nil
}

func (r reporter) OnEval(_ context.Context, t *Trainer, e EvalResult) error {
	r.send(Report{Gen: r.gen, Step: e.Step, Loss: t.state.LastLoss, Eval: &e})
	return nil
}

func (r reporter) OnEnd(_ context.Context, t *Trainer, s Summary) error {
	if s.Stopped {
		r.send(Report{Gen: r.gen, Step: s.Steps, Loss: s.Loss, Stopped: true})
	}
	return nil
}
