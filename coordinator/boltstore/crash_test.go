package boltstore_test

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/craftml/craft/coordinator/boltstore"
	"github.com/craftml/craft/coordinator/storetest"
)

// crashEnv names the checkpoint file a child process of TestKilledMidSave
// writes to; TestMain runs the child's save loop instead of the tests.
const crashEnv = "CRAFT_BOLTSTORE_CRASH_CHILD"

// crashParamBytes makes each save a few MiB so that a kill often lands in the
// middle of one.
const crashParamBytes = 1 << 20

func TestMain(m *testing.M) {
	if path := os.Getenv(crashEnv); path != "" {
		os.Exit(crashChild(path))
	}
	os.Exit(m.Run())
}

// crashChild saves checkpoints of increasing steps into path forever,
// printing "saving N" before and "committed N NANOSECONDS" after each Save.
func crashChild(path string) int {
	cfg := boltstore.DefaultConfig()
	cfg.Keep = 3
	cfg.LockTimeout = 5 * time.Second // the parent's previous child may still be exiting
	s, err := boltstore.Open(path, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	step := uint64(1)
	if c, err := s.Latest(ctx); err == nil {
		step = c.Step + 1
	}
	for ; ; step++ {
		c := storetest.Make(step, crashParamBytes)
		fmt.Printf("saving %d\n", step)
		start := time.Now()
		if err := s.Save(ctx, c); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 3
		}
		fmt.Printf("committed %d %d\n", step, time.Since(start))
	}
}

// TestKilledMidSave runs a child process that saves checkpoints in a loop
// and SIGKILLs it while a Save is in flight, several times over the same
// file: every time, the last committed checkpoint (or a later one) must be
// readable and intact, and the one being saved either whole or absent.
func TestKilledMidSave(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes; skipped in -short")
	}
	path := filepath.Join(t.TempDir(), "craft.db")
	const rounds = 6
	var committed uint64
	landed := 0 // rounds where the in-flight save had committed before the kill
	for round := range rounds {
		// Kill while saving the (round%3+2)-th checkpoint of this child.
		inFlight := crashRound(t, path, round%3+2)
		s := open(t, path, testConfig(3))
		ctx := context.Background()
		c, err := s.Latest(ctx)
		if err != nil {
			s.Close()
			t.Fatalf("round %d: Latest() after SIGKILL during save of step %d = %v; want the last committed checkpoint", round, inFlight, err)
		}
		if c.Step >= inFlight {
			landed++ // the kill landed after the commit (or, on a loaded machine, later saves)
		}
		if c.Step < inFlight-1 {
			t.Errorf("round %d: Latest().Step = %d; want at least %d, the last committed", round, c.Step, inFlight-1)
		}
		if d := storetest.Equal(c, storetest.Make(c.Step, crashParamBytes)); d != "" {
			t.Errorf("round %d: Latest(): %s", round, d)
		}
		steps, err := s.Steps(ctx)
		if err != nil {
			t.Fatalf("round %d: Steps() = %v", round, err)
		}
		for _, step := range steps {
			if _, err := s.Load(ctx, step); err != nil {
				t.Errorf("round %d: Load(%d) = %v; want nil", round, step, err)
			}
		}
		if c.Step < committed {
			t.Errorf("round %d: Latest().Step = %d went back from %d", round, c.Step, committed)
		}
		committed = c.Step
		t.Logf("round %d: killed during save of step %d; latest %d; steps %v", round, inFlight, c.Step, steps)
		s.Close()
	}
	t.Logf("the in-flight save survived %d of %d kills", landed, rounds)
}

// crashRound starts a child on path, waits until it starts its n-th Save and
// kills it with SIGKILL after a random part of the time its last Save took,
// so that the kill lands anywhere inside the write. It returns the step that
// was in flight.
func crashRound(t *testing.T, path string, n int) uint64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashEnv+"="+path)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	killed := false
	defer func() {
		if !killed {
			cmd.Process.Kill()
		}
	}()
	sc := bufio.NewScanner(out)
	saves := 0
	var last time.Duration
	for sc.Scan() {
		line := sc.Text()
		var step string
		var took int64
		if _, err := fmt.Sscanf(line, "committed %s %d", &step, &took); err == nil {
			last = time.Duration(took)
			continue
		}
		step, ok := strings.CutPrefix(line, "saving ")
		if !ok {
			continue
		}
		if saves++; saves < n {
			continue
		}
		time.Sleep(time.Duration(rand.Int64N(int64(last) + 1)))
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("kill child: %v", err)
		}
		killed = true
		v, err := strconv.ParseUint(step, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q", line)
		}
		return v
	}
	t.Fatalf("child exited before its save number %d: %v", n, sc.Err())
	return 0
}
