package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"google.golang.org/grpc"

	"github.com/craftml/craft/allreduce"
	"github.com/craftml/craft/allreduce/grpctransport"
	"github.com/craftml/craft/allreduce/tcptransport"
	"github.com/craftml/craft/conf"
	"github.com/craftml/craft/coordinator"
	"github.com/craftml/craft/coordinator/boltstore"
	"github.com/craftml/craft/coordinator/grpcapi"
	"github.com/craftml/craft/internal/membership"
	"github.com/craftml/craft/worker"
)

// head is a running coordinator: the run's service, its gRPC server and
// its HTTP status endpoint.
type head struct {
	svc      *coordinator.Service
	store    *boltstore.Store
	grpc     *grpc.Server
	http     *http.Server
	gossip   *membership.Node
	addr     string // gRPC address workers join
	httpAddr string
	log      *slog.Logger
}

// resumeMode says what to do with a checkpoint file that already holds a
// run.
type resumeMode int

const (
	freshRun   resumeMode = iota // refuse a file that holds a run (craft train)
	mustResume                   // refuse a file that holds none (craft train --resume)
	autoResume                   // resume if it holds one, else start (craft coordinator)
)

// startHead opens the run's checkpoint store and starts its coordinator,
// which admits the holders of token (anyone when it is empty).
func startHead(ctx context.Context, c conf.Config, token string, mode resumeMode, onReport func(string, coordinator.Report)) (*head, error) {
	path := c.CheckpointPath()
	if _, err := os.Stat(path); mode == mustResume && errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("--resume: there is no checkpoint file %s to resume from", path)
	}
	store, err := openStore(path, c.Checkpoint.Keep)
	if err != nil {
		return nil, err
	}
	h := &head{store: store, log: slog.Default().With("role", "coordinator")}
	fail := func(err error) (*head, error) {
		h.stop()
		return nil, err
	}
	switch cp, err := store.Latest(ctx); {
	case err == nil && mode == freshRun:
		return fail(fmt.Errorf("%s already holds run %q at step %d: pass --resume to continue it, or choose another run.name or checkpoint.path",
			path, c.Run.Name, cp.Step))
	case errors.Is(err, coordinator.ErrNoCheckpoint) && mode == mustResume:
		return fail(fmt.Errorf("--resume: %s holds no checkpoint to resume from", path))
	case err != nil && !errors.Is(err, coordinator.ErrNoCheckpoint):
		return fail(err)
	}
	src, err := worker.OpenSource(c)
	if err != nil {
		return fail(err)
	}
	h.svc, err = coordinator.NewService(ctx, coordinator.ServiceConfig{Conf: c, Source: src, Store: store, Logger: h.log, OnReport: onReport})
	if err != nil {
		return fail(err)
	}
	lis, err := net.Listen("tcp", c.Cluster.CoordinatorAddr)
	if err != nil {
		return fail(fmt.Errorf("cluster.coordinator_addr: %w", err))
	}
	h.addr = lis.Addr().String()
	h.grpc = grpcapi.NewServer(h.svc, token, h.log)
	go h.grpc.Serve(lis)
	if c.Cluster.HTTPAddr != "" {
		hl, err := net.Listen("tcp", c.Cluster.HTTPAddr)
		if err != nil {
			return fail(fmt.Errorf("cluster.http_addr: %w", err))
		}
		h.httpAddr = hl.Addr().String()
		h.http = &http.Server{Handler: h.svc.Handler(), ReadHeaderTimeout: 5 * time.Second}
		go h.http.Serve(hl)
	}
	if c.Cluster.GossipAddr != "" {
		mc := membership.DefaultConfig()
		mc.Name = "coordinator"
		mc.BindAddr = c.Cluster.GossipAddr
		mc.JoinToken = token
		mc.Meta = membership.Meta{Role: membership.RoleCoordinator, GRPCAddr: h.addr}
		mc.Logger = h.log
		if h.gossip, err = membership.Start(mc); err != nil {
			return fail(fmt.Errorf("cluster.gossip_addr: %w", err))
		}
		h.svc.SetGossipSeed(h.gossip.Addr())
		go func(events <-chan membership.Event) {
			// Gossip catches what a session's end does not: a worker that hangs
			// or is cut off keeps its stream open but stops answering probes.
			for ev := range events {
				if ev.Kind == membership.Fail || ev.Kind == membership.Leave {
					h.svc.Leave(ev.ID, "membership: "+ev.Kind.String())
				}
			}
		}(h.gossip.Events())
	}
	h.log.Info("coordinator listening", "grpc", h.addr, "http", h.httpAddr, "gossip", gossipAddr(h.gossip), "checkpoints", path)
	return h, nil
}

func gossipAddr(n *membership.Node) string {
	if n == nil {
		return ""
	}
	return n.Addr()
}

// stop shuts the coordinator down, letting in-flight calls finish for a
// moment, and closes the store.
func (h *head) stop() {
	if h.gossip != nil {
		h.gossip.Close()
	}
	if h.grpc != nil {
		done := make(chan struct{})
		go func() { h.grpc.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
			h.grpc.Stop()
		}
	}
	if h.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		h.http.Shutdown(ctx)
		cancel()
	}
	if h.store != nil {
		h.store.Close()
	}
}

// workerOptions are the flags of `craft worker`, and what `craft train`
// gives its in-process workers.
type workerOptions struct {
	join      string // coordinator address
	listen    string // ring transport listen address
	advertise string // ring address peers dial
	id        string
	token     string
	threads   int
	// computeNice is the training thread's niceness (worker.NodeConfig.ComputeNice).
	computeNice int
	cacheDir    string
	gossip      string // gossip listen address; "" = the --listen host, any port
	gossipAdv   string // gossip address others reach; "" = the bound one
}

// runWorker joins the coordinator and trains until the run is done.
func runWorker(ctx context.Context, o workerOptions) error {
	if o.id == "" {
		host, _ := os.Hostname()
		o.id = fmt.Sprintf("%s-%d-%04x", host, os.Getpid(), time.Now().UnixNano()&0xffff)
	}
	log := slog.Default().With("role", "worker")
	// The ring's socket is bound now, so the join can name its address; which
	// transport serves it (allreduce.transport) is known after the join.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("ring transport: listen on %s (--listen): %w", o.listen, err)
	}
	ringAddr := o.advertise
	if ringAddr == "" {
		ringAddr = ln.Addr().String()
	}
	opened := false
	defer func() {
		if !opened {
			ln.Close()
		}
	}()
	openRing := func(c conf.Config) (allreduce.Transport, error) {
		opened = true // the transport owns ln now, even if it fails
		return openRingTransport(ln, ringAddr, c.AllReduce.Transport, o.token, conf.MaxSegment(c.AllReduce.Transport), log)
	}
	client, err := grpcapi.Dial(o.join, o.token)
	if err != nil {
		return err
	}
	defer client.Close()
	var gossip *membership.Node
	defer func() {
		if gossip != nil {
			gossip.Close() // leave the gossip cleanly
		}
	}()
	joinGossip := func(info worker.JoinInfo) error {
		if info.GossipSeed == "" {
			return nil // the coordinator runs no gossip
		}
		mc := membership.DefaultConfig()
		mc.Name = info.WorkerID
		mc.BindAddr = o.gossip
		if mc.BindAddr == "" {
			host, _, _ := net.SplitHostPort(o.listen)
			mc.BindAddr = net.JoinHostPort(host, "0")
		}
		mc.AdvertiseAddr = o.gossipAdv
		mc.JoinToken = o.token
		mc.Meta = membership.Meta{Role: membership.RoleWorker, WorkerID: info.WorkerID, RingAddr: ringAddr}
		mc.Logger = log
		n, err := membership.Start(mc)
		if err != nil {
			return fmt.Errorf("gossip: %w", err)
		}
		gossip = n
		if err := n.Join(ctx, info.GossipSeed); err != nil {
			return fmt.Errorf("gossip: join the coordinator at %s: %w", info.GossipSeed, err)
		}
		return nil
	}
	node, err := worker.NewNode(worker.NodeConfig{
		ID: o.id, Token: o.token, SchemaHash: conf.SchemaHash(), RingAddr: ringAddr, OpenTransport: openRing,
		Threads: o.threads, ComputeNice: o.computeNice, CacheDir: o.cacheDir, Logger: log, OnJoin: joinGossip,
	}, client)
	if err != nil {
		return err
	}
	return node.Run(ctx)
}

// openRingTransport serves the ring all-reduce on ln with the transport
// kind (allreduce.transport), taking messages of up to maxPayload bytes (the
// ring's segments). Both transports authenticate their peers with a key
// derived from the join token (tcp in a handshake on every connection, grpc
// on every call); without a token, like the coordinator, they accept anyone
// who can reach them, and say so. Workers and `craft bench allreduce` both
// open their transport here, so the bench measures what workers run.
func openRingTransport(ln net.Listener, advertise, kind, token string, maxPayload int, log *slog.Logger) (allreduce.Transport, error) {
	var key []byte
	if token != "" {
		k := sha256.Sum256([]byte("craft ring transport key\x00" + token))
		key = k[:]
	} else {
		log.Warn("ring transport " + kind + " without cluster.join_token: ring connections are not authenticated")
	}
	switch kind {
	case "tcp":
		tc := tcptransport.DefaultConfig()
		tc.AdvertiseAddr, tc.MaxPayloadBytes, tc.Logger = advertise, maxPayload, log
		tc.Secret, tc.Insecure = key, key == nil
		return tcptransport.NewListener(ln, tc)
	default:
		tc := grpctransport.DefaultConfig()
		tc.AdvertiseAddr, tc.MaxPayloadBytes, tc.Logger = advertise, maxPayload, log
		tc.Secret, tc.Insecure = key, key == nil
		return grpctransport.NewListener(ln, tc)
	}
}

// clusterOptions shape a local cluster.
type clusterOptions struct {
	workers  int
	mode     resumeMode
	watch    func(svc *coordinator.Service, stop <-chan struct{}) // shows progress until stop closes
	onReport func(worker string, r coordinator.Report)            // sees every report (tests)
}

// localCluster runs a coordinator and o.workers workers in this process,
// talking gRPC over 127.0.0.1, until the run is done.
func localCluster(ctx context.Context, c conf.Config, o clusterOptions) (*head, error) {
	n := o.workers
	token := c.Cluster.JoinToken
	if token == "" {
		// The cluster is this process's own: a random token keeps everyone
		// else off its coordinator and its ring, on any port of this host.
		// (It stays out of the config, whose hash names the run.)
		token = rand.Text()
	}
	h, err := startHead(ctx, c, token, o.mode, o.onReport)
	if err != nil {
		return nil, err
	}
	threads := c.Train.Threads
	if threads == 0 {
		threads = numCPU()
	}
	per := max(1, threads/n)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := runWorker(ctx, workerOptions{
				join: h.addr, listen: "127.0.0.1:0", id: fmt.Sprintf("local-%d", i),
				token: token, threads: per, computeNice: worker.ComputeNiceDefault,
			})
			if err != nil && ctx.Err() == nil {
				errs <- fmt.Errorf("worker local-%d: %w", i, err)
			}
		}()
	}
	stopWatch := make(chan struct{})
	watchDone := make(chan struct{})
	go func() {
		if o.watch != nil {
			o.watch(h.svc, stopWatch)
		}
		close(watchDone)
	}()
	var runErr error
	select {
	case <-h.svc.Done():
	case runErr = <-errs:
	case <-ctx.Done():
		runErr = ctx.Err()
	}
	close(stopWatch)
	<-watchDone
	if runErr != nil {
		cancel()
	}
	wg.Wait()
	return h, runErr
}
