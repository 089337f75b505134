package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"
)

// cluster is a craft coordinator a test started on free 127.0.0.1 ports,
// with the workers it started.
type cluster struct {
	t     testing.TB
	dir   string
	coord *proc
	join  string // gRPC address workers join
	base  string // http://host:port of /status
	db    string // checkpoint file
	token string // join token the workers pass (cluster.join_token), if any
}

// startCluster starts `craft coordinator --conf conf/cluster.yaml` in dir
// on free 127.0.0.1 ports with the tiny model of tiny(steps, every) and the
// extra key=value pairs, and reads its addresses from what it prints. Its
// log is JSON, for waitLog.
func startCluster(t testing.TB, dir string, steps, every int, extra ...string) *cluster {
	t.Helper()
	return startClusterNamed(t, "coordinator", dir, steps, every, extra...)
}

// startClusterNamed is startCluster with the coordinator's process called
// name (in messages and its log file's name).
func startClusterNamed(t testing.TB, name, dir string, steps, every int, extra ...string) *cluster {
	t.Helper()
	confPath, err := filepath.Abs("../conf/cluster.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, dir: dir, db: filepath.Join(dir, "craft.db")}
	kv := append([]string{
		"cluster.coordinator_addr=127.0.0.1:0", "cluster.gossip_addr=127.0.0.1:0", "cluster.http_addr=127.0.0.1:0",
		"checkpoint.path=" + c.db, "train.warmup_steps=10",
	}, extra...)
	c.coord = start(t, name, dir, args([]string{"--log-format", "json", "coordinator", "--conf", confPath}, tiny(steps, every, kv...))...)
	// coordinator of run "cluster": workers join with `craft worker --join ADDR`; status at http://ADDR/status
	addrs := regexp.MustCompile("--join ([^` ]+)`.*status at (http://[^ ]+)/status")
	m := addrs.FindStringSubmatch(c.coord.waitLine(30*time.Second, "its join and status addresses", addrs.MatchString))
	c.join, c.base = m[1], m[2]
	return c
}

// worker starts `craft worker --join` the coordinator, with one compute
// thread (--threads; the run's train.threads is 0) and the name id.
func (c *cluster) worker(id string) *proc {
	c.t.Helper()
	a := []string{"worker", "--join", c.join, "--id", id, "--threads", "1"}
	if c.token != "" {
		a = append(a, "--token", c.token)
	}
	return start(c.t, id, c.dir, a...)
}

// alive returns an error once the coordinator has exited: a stop function
// for waitStatus.
func (c *cluster) alive() error {
	if c.coord.exited() {
		return fmt.Errorf("the coordinator exited: %v", c.coord.err)
	}
	return nil
}

// waitStatus waits for a /status that cond accepts.
func (c *cluster) waitStatus(timeout time.Duration, what string, cond func(status) bool) status {
	c.t.Helper()
	return waitStatus(c.t, c.base, timeout, what, c.alive, cond)
}

// stop ends the coordinator with SIGTERM and checks that it exits cleanly.
func (c *cluster) stop() {
	c.t.Helper()
	if err := c.coord.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		c.t.Fatalf("SIGTERM to the coordinator: %v", err)
	}
	if err := c.coord.wait(30 * time.Second); err != nil {
		c.t.Errorf("coordinator after SIGTERM: %v; want exit status 0", err)
	}
}

// ranked returns the workers of s that are in the ring, by id, with their steps.
func ranked(s status) map[string]int {
	m := map[string]int{}
	for _, w := range s.Workers {
		if w.Rank >= 0 {
			m[w.ID] = w.Step
		}
	}
	return m
}

// TestClusterTrainsToTheEnd runs a coordinator and three worker processes
// through a whole run, then reads the checkpoint file and generates from it.
func TestClusterTrainsToTheEnd(t *testing.T) {
	t.Parallel()
	const steps, every = 150, 50
	c := startCluster(t, t.TempDir(), steps, every, "cluster.min_workers=3")
	workers := []*proc{c.worker("w1"), c.worker("w2"), c.worker("w3")}

	s := c.waitStatus(90*time.Second, "run done", func(s status) bool { return s.State == "done" })
	t.Logf("status: %v", s)
	if s.Step != steps || s.TotalSteps != steps || s.LastCheckpointStep != steps {
		t.Errorf("status at done: step %d of %d, last checkpoint %d; want %d of %d, %d", s.Step, s.TotalSteps, s.LastCheckpointStep, steps, steps, steps)
	}
	// min_workers 3: generation 1 is the ring of all three, and a later one
	// would mean a worker was lost or re-planned.
	if s.Generation != 1 {
		t.Errorf("status at done: generation %d; want 1 (the three workers from the first step to the last)", s.Generation)
	}
	for _, w := range workers {
		if err := w.wait(30 * time.Second); err != nil {
			t.Errorf("%s at the end of the run: %v; want exit status 0", w.name, err)
		}
	}
	checkGet(t, c.base, "/healthz")
	checkGet(t, c.base, "/metrics", fmt.Sprintf("craft_step %d\n", steps), fmt.Sprintf("craft_last_checkpoint_step %d\n", steps))
	c.stop()

	cp, _ := readCheckpoints(t, c.db)
	if cp.Step != steps {
		t.Errorf("latest checkpoint step = %d; want %d", cp.Step, steps)
	}
	g := mustRun(t, c.dir, time.Minute, "generate", "--checkpoint", c.db, "--prompt", "12+35=", "--tokens", "3", "--temperature", "0")
	if !regexp.MustCompile(`^12\+35=\d{3}\n$`).MatchString(g.stdout) {
		t.Errorf("craft generate stdout = %q; want \"12+35=\" and 3 digits", g.stdout)
	}
}

// TestClusterSurvivesSIGKILL kills one of three workers with SIGKILL
// mid-run: the two others go on in a new generation and finish the run.
func TestClusterSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	survivesSIGKILL(t, "")
}

// TestTCPRingSurvivesSIGKILL is TestClusterSurvivesSIGKILL with the ring
// over the plain-TCP transport (allreduce.transport tcp, keyed by the join
// token).
func TestTCPRingSurvivesSIGKILL(t *testing.T) {
	t.Parallel()
	survivesSIGKILL(t, "e2e join token for the tcp ring", "allreduce.transport=tcp")
}

// survivesSIGKILL runs three workers (joining with token, if any, on a
// coordinator with the extra settings), kills one with SIGKILL mid-run, and
// checks that the two others go on in a new generation and finish the run.
func survivesSIGKILL(t *testing.T, token string, extra ...string) {
	const steps, every = 1500, 50
	if token != "" {
		extra = append(extra, "cluster.join_token="+token)
	}
	c := startCluster(t, t.TempDir(), steps, every, append([]string{"cluster.min_workers=2"}, extra...)...)
	c.token = token
	w1, w2, w3 := c.worker("w1"), c.worker("w2"), c.worker("w3")

	s := c.waitStatus(60*time.Second, "three workers in the ring, training", func(s status) bool {
		return len(ranked(s)) == 3 && s.Step > 0
	})
	t.Logf("three workers: %v", s)
	w3.kill()
	killedAt, gen := s.Step, s.Generation
	s = c.waitStatus(60*time.Second, "a ring of w1 and w2 training past the kill", func(s status) bool {
		r := ranked(s)
		_, has3 := r["w3"]
		return s.Generation > gen && len(r) == 2 && !has3 && s.Step > killedAt+every
	})
	t.Logf("after killing w3 at step %d: %v", killedAt, s)
	if s.State == "done" {
		t.Fatalf("the run ended before it could be seen going on without w3 (%v); raise steps", s)
	}
	twoGen := s.Generation

	s = c.waitStatus(2*time.Minute, "run done", func(s status) bool { return s.State == "done" })
	t.Logf("done: %v", s)
	if s.Step != steps || s.LastCheckpointStep != steps {
		t.Errorf("status at done: step %d, last checkpoint %d; want %d, %d", s.Step, s.LastCheckpointStep, steps, steps)
	}
	if s.Generation != twoGen {
		t.Errorf("status at done: generation %d; want %d, the ring of w1 and w2 to the end", s.Generation, twoGen)
	}
	for _, w := range []*proc{w1, w2} {
		if err := w.wait(30 * time.Second); err != nil {
			t.Errorf("%s at the end of the run: %v; want exit status 0", w.name, err)
		}
	}
	c.stop()
	if cp, _ := readCheckpoints(t, c.db); cp.Step != steps {
		t.Errorf("latest checkpoint step = %d; want %d", cp.Step, steps)
	}
}

// TestClusterJoinMidRun starts a fourth worker while three train: it joins
// the ring in a new generation, trains, and the run finishes with all four.
func TestClusterJoinMidRun(t *testing.T) {
	t.Parallel()
	const steps, every = 1500, 50
	c := startCluster(t, t.TempDir(), steps, every, "cluster.min_workers=3")
	workers := []*proc{c.worker("w1"), c.worker("w2"), c.worker("w3")}

	s := c.waitStatus(60*time.Second, "three workers in the ring, training", func(s status) bool {
		return len(ranked(s)) == 3 && s.Step > 0
	})
	t.Logf("three workers: %v", s)
	workers = append(workers, c.worker("w4"))
	joinedAt, gen := s.Step, s.Generation
	s = c.waitStatus(60*time.Second, "w4 in the ring, training", func(s status) bool {
		step, ok := ranked(s)["w4"]
		return s.Generation > gen && len(ranked(s)) == 4 && ok && step > joinedAt
	})
	t.Logf("after w4 joined at step %d: %v", joinedAt, s)
	if s.State == "done" {
		t.Fatalf("the run ended before w4 could be seen training (%v); raise steps", s)
	}

	s = c.waitStatus(2*time.Minute, "run done", func(s status) bool { return s.State == "done" })
	t.Logf("done: %v", s)
	if s.Step != steps || s.LastCheckpointStep != steps {
		t.Errorf("status at done: step %d, last checkpoint %d; want %d, %d", s.Step, s.LastCheckpointStep, steps, steps)
	}
	for _, w := range workers {
		if err := w.wait(30 * time.Second); err != nil {
			t.Errorf("%s at the end of the run: %v; want exit status 0", w.name, err)
		}
	}
	c.stop()
	if cp, _ := readCheckpoints(t, c.db); cp.Step != steps {
		t.Errorf("latest checkpoint step = %d; want %d", cp.Step, steps)
	}
}

// TestCoordinatorRestart kills the coordinator with SIGKILL once it has
// committed a checkpoint; started again on the same file it resumes from
// that checkpoint, new workers finish the run, and the final parameters are
// bitwise those of a run that never stopped.
func TestCoordinatorRestart(t *testing.T) {
	t.Parallel()
	const steps, every = 600, 50
	refDir, dir := t.TempDir(), t.TempDir()
	ref := startCluster(t, refDir, steps, every, "cluster.min_workers=2")
	refWorkers := []*proc{ref.worker("ref-w1"), ref.worker("ref-w2")}

	c := startClusterNamed(t, "coordinator-1", dir, steps, every, "cluster.min_workers=2")
	old := []*proc{c.worker("w1"), c.worker("w2")}
	rec := c.coord.waitLog(time.Minute, "checkpoint committed", nil)
	c.coord.kill()
	committed := intField(rec, "step")
	t.Logf("killed the coordinator after it committed step %d", committed)
	for _, w := range old {
		w.kill() // whether it would end or wait for its coordinator, it is not needed
	}
	cp, _ := readCheckpoints(t, c.db)
	if cp.Step >= steps {
		t.Fatalf("after SIGKILL the latest checkpoint is step %d; want a run killed before its last step %d", cp.Step, steps)
	}

	c = startClusterNamed(t, "coordinator-2", dir, steps, every, "cluster.min_workers=2")
	ready := c.coord.waitLog(30*time.Second, "run ready", nil)
	if got := intField(ready, "from_step"); got != int(cp.Step) {
		t.Errorf("restarted coordinator: run ready from_step %d; want the latest checkpoint, %d", got, cp.Step)
	}
	workers := []*proc{c.worker("w3"), c.worker("w4")}
	s := c.waitStatus(time.Minute, "run done", func(s status) bool { return s.State == "done" })
	t.Logf("restarted run done: %v", s)
	for _, w := range workers {
		if err := w.wait(30 * time.Second); err != nil {
			t.Errorf("%s at the end of the run: %v; want exit status 0", w.name, err)
		}
	}
	c.stop()

	ref.waitStatus(time.Minute, "reference run done", func(s status) bool { return s.State == "done" })
	for _, w := range refWorkers {
		if err := w.wait(30 * time.Second); err != nil {
			t.Errorf("%s at the end of the run: %v; want exit status 0", w.name, err)
		}
	}
	ref.stop()
	got, _ := readCheckpoints(t, c.db)
	want, _ := readCheckpoints(t, ref.db)
	if got.Step != steps || want.Step != steps {
		t.Fatalf("final steps: restarted %d, uninterrupted %d; want %d", got.Step, want.Step, steps)
	}
	if i := firstDiff(got.Params, want.Params); i >= 0 {
		t.Errorf("params of the restarted and uninterrupted runs differ (%d and %d bytes, first at byte %d); want bitwise equal",
			len(got.Params), len(want.Params), i)
	}
}
