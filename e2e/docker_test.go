package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestComposeCluster builds the image with make image, runs the root
// docker-compose.yml (a coordinator and three workers) with small sizes
// under a project name of its own, waits on /status until the run is done,
// and removes the project with its volume and the image. It is skipped only
// when no Docker engine answers `docker info`.
func TestComposeCluster(t *testing.T) {
	t.Parallel() // make image may compile everything again (-trimpath): overlap it with the other tests
	if out, err := exec.Command("docker", "info").CombinedOutput(); err != nil {
		t.Skipf("skipping the Docker test: docker info failed (no Docker engine here): %v\n%s", err, lastLines(string(out), 5))
	}
	compose := composeCommand(t)
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	id := fmt.Sprintf("%d%d", os.Getpid(), time.Now().UnixNano()%1e6)
	image := "craft-e2e:" + id
	project := "crafte2e" + id

	// The image, from the source.
	mk := exec.Command("make", "-C", root, "image", "BIN="+filepath.Join(dir, "craft"), "IMAGE="+image)
	if out, err := mk.CombinedOutput(); err != nil {
		t.Fatalf("make image: %v\n%s", err, lastLines(string(out), 40))
	}
	t.Cleanup(func() {
		if out, err := exec.Command("docker", "rmi", "-f", image).CombinedOutput(); err != nil {
			t.Logf("docker rmi %s: %v\n%s", image, err, out)
		}
	})

	// The cluster, with the coordinator training a tiny model for a few steps.
	override := filepath.Join(dir, "small.yml")
	small := `services:
  coordinator:
    command: ["coordinator", "--conf", "/conf/cluster.yaml", "--set", "checkpoint.path=/data/craft.db",
      "--set", "model.n_layer=1", "--set", "model.n_embd=32", "--set", "train.steps=60",
      "--set", "train.warmup_steps=10", "--set", "train.eval_every=30", "--set", "checkpoint.every=20",
      "--set", "cluster.min_workers=3"]
`
	if err := os.WriteFile(override, []byte(small), 0o644); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	env := append(os.Environ(), "CRAFT_IMAGE="+image, fmt.Sprintf("CRAFT_HTTP_PORT=%d", port))
	dc := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		full := append(append([]string{}, compose[1:]...), "-p", project, "-f", filepath.Join(root, "docker-compose.yml"), "-f", override)
		cmd := exec.CommandContext(ctx, compose[0], append(full, args...)...)
		cmd.Env = env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := dc(time.Minute, "logs", "--no-color")
			t.Logf("compose logs:\n%s", lastLines(logs, 120))
		}
		if out, err := dc(2*time.Minute, "down", "--volumes", "--remove-orphans", "--timeout", "5"); err != nil {
			t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := dc(2*time.Minute, "up", "--detach"); err != nil {
		t.Fatalf("compose up: %v\n%s", err, out)
	}

	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	// Stop waiting as soon as the coordinator's container is gone.
	var lastCheck time.Time
	coordinatorUp := func() error {
		if time.Since(lastCheck) < 2*time.Second {
			return nil
		}
		lastCheck = time.Now()
		st, err := containerState(project, "coordinator")
		if err != nil {
			return err
		}
		if !strings.HasPrefix(st, "running") {
			return fmt.Errorf("coordinator container %s", st)
		}
		return nil
	}
	s := waitStatus(t, base, 2*time.Minute, "run done", coordinatorUp, func(s status) bool { return s.State == "done" })
	t.Logf("final status: %v", s)
	checkGet(t, base, "/healthz")
	if s.Step != s.TotalSteps || s.TotalSteps != 60 {
		t.Errorf("status at done: step %d of %d; want 60 of 60", s.Step, s.TotalSteps)
	}
	if s.LastCheckpointStep != 60 {
		t.Errorf("status at done: last checkpoint step %d; want 60", s.LastCheckpointStep)
	}
	// min_workers 3: generation 1 is the ring of the three workers; a later one
	// would mean one was lost.
	if s.Generation != 1 {
		t.Errorf("status at done: generation %d; want 1 (the three workers from the first step to the last)", s.Generation)
	}
	// A worker exits with status 0 once the run is complete.
	for _, w := range []string{"worker1", "worker2", "worker3"} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			st, err := containerState(project, w)
			if err != nil {
				t.Fatal(err)
			}
			if st == "exited 0" {
				break
			}
			if strings.HasPrefix(st, "exited") || time.Now().After(deadline) {
				t.Errorf("%s container %s after the run; want exited 0", w, st)
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// The checkpoint on the volume, read by a container of the same image once
	// the coordinator has let go of it.
	if out, err := dc(time.Minute, "stop", "--timeout", "10", "coordinator"); err != nil {
		t.Fatalf("compose stop coordinator: %v\n%s", err, out)
	}
	volume := project + "_checkpoints"
	for _, tc := range []struct {
		args []string
		want *regexp.Regexp
	}{
		{[]string{"eval", "--checkpoint", "/data/craft.db"}, regexp.MustCompile(`step 60, run "cluster"`)},
		{[]string{"generate", "--checkpoint", "/data/craft.db", "--prompt", "12+35=", "--tokens", "3", "--temperature", "0"}, regexp.MustCompile(`^12\+35=\d{3}\n$`)},
	} {
		cmd := exec.Command("docker", append([]string{"run", "--rm", "-v", volume + ":/data", image}, tc.args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Errorf("docker run %s craft %s: %v\n%s%s", image, strings.Join(tc.args, " "), err, stdout.String(), stderr.String())
			continue
		}
		if !tc.want.MatchString(stdout.String()) {
			t.Errorf("docker run %s craft %s: stdout = %q; want a match of %q", image, strings.Join(tc.args, " "), stdout.String(), tc.want)
		}
	}
}

// containerState returns "STATUS EXITCODE" (e.g. "running 0", "exited 1") of
// the container of service in the Compose project, found by the labels both
// Compose v1 and v2 set.
func containerState(project, service string) (string, error) {
	out, err := exec.Command("docker", "ps", "--all", "--quiet",
		"--filter", "label=com.docker.compose.project="+project,
		"--filter", "label=com.docker.compose.service="+service).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker ps: %v: %s", err, out)
	}
	ids := strings.Fields(string(out))
	if len(ids) != 1 {
		return "", fmt.Errorf("docker ps: %d containers of service %s in project %s; want 1", len(ids), service, project)
	}
	state, err := exec.Command("docker", "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", ids[0]).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("docker inspect %s: %v: %s", ids[0], err, state)
	}
	return strings.TrimSpace(string(state)), nil
}

// composeCommand returns the Compose command line: `docker compose` (v2)
// when the plugin is installed, else the standalone `docker-compose`.
func composeCommand(t testing.TB) []string {
	t.Helper()
	if exec.Command("docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}
	}
	if exec.Command("docker-compose", "version").Run() == nil {
		return []string{"docker-compose"}
	}
	t.Fatalf("Docker runs but neither `docker compose` nor `docker-compose` is installed")
	return nil
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
