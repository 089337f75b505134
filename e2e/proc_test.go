package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// proc is a craft process a test started with start. Its stdout and stderr
// go, interleaved, to a log file and to an in-memory list of lines that
// waitLine watches.
type proc struct {
	t       testing.TB
	name    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File

	mu      sync.Mutex
	lines   []string
	partial []byte
	changed chan struct{} // closed and replaced when a line arrives or the process exits

	done chan struct{} // closed once the process has exited and its output is in lines
	err  error         // the result of Wait; read it after done
}

// start runs craft with args in dir (created if needed) and registers a
// cleanup that kills it (SIGKILL) and, if the test failed, logs the tail of
// its output. name labels the process in messages and names its log file.
func start(t testing.TB, name, dir string, args ...string) *proc {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &proc{t: t, name: name, logPath: logPath, log: f, changed: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(craftBin, args...)
	p.cmd.Dir = dir
	p.cmd.Stdout = p
	p.cmd.Stderr = p
	p.cmd.SysProcAttr = sysProcAttr()
	if err := p.cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: craft %s: %v", name, strings.Join(args, " "), err)
	}
	t.Logf("started %s (pid %d): craft %s", name, p.cmd.Process.Pid, strings.Join(args, " "))
	go func() {
		err := p.cmd.Wait()
		p.mu.Lock()
		if len(p.partial) > 0 {
			p.lines = append(p.lines, string(p.partial))
			p.partial = nil
		}
		p.err = err
		p.mu.Unlock()
		close(p.done)
		p.notify()
	}()
	t.Cleanup(func() {
		p.kill()
		p.log.Close()
		if t.Failed() {
			t.Logf("last output of %s (%s):\n%s", p.name, p.logPath, p.tail(80))
		}
	})
	return p
}

// Write records output of the process; exec calls it from one goroutine.
func (p *proc) Write(b []byte) (int, error) {
	n, err := p.log.Write(b)
	p.mu.Lock()
	p.partial = append(p.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(p.partial, '\n')
		if i < 0 {
			break
		}
		p.lines = append(p.lines, string(p.partial[:i]))
		p.partial = p.partial[i+1:]
		added = true
	}
	p.partial = bytes.Clone(p.partial)
	p.mu.Unlock()
	if added {
		p.notify()
	}
	return n, err
}

func (p *proc) notify() {
	p.mu.Lock()
	close(p.changed)
	p.changed = make(chan struct{})
	p.mu.Unlock()
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL to the process (and its process group) unless it has
// exited, and waits until it is gone.
func (p *proc) kill() {
	if p.exited() {
		return
	}
	killGroup(p.cmd.Process)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		p.t.Errorf("%s (pid %d) still running 10 s after SIGKILL", p.name, p.cmd.Process.Pid)
	}
}

// wait waits up to timeout for the process to exit and returns its exit
// error (nil for status 0). It fails the test on timeout.
func (p *proc) wait(timeout time.Duration) error {
	p.t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.t.Fatalf("%s did not exit within %s", p.name, timeout)
		return nil
	}
}

// waitLine waits up to timeout for a line of output that match accepts and
// returns it. It fails the test if the process exits or the time runs out
// first; what names the awaited line in that message.
func (p *proc) waitLine(timeout time.Duration, what string, match func(line string) bool) string {
	p.t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	next := 0
	for {
		p.mu.Lock()
		lines, changed := p.lines, p.changed
		p.mu.Unlock()
		for ; next < len(lines); next++ {
			if match(lines[next]) {
				return lines[next]
			}
		}
		if p.exited() {
			// Output is complete once done is closed; look once more.
			p.mu.Lock()
			lines = p.lines
			p.mu.Unlock()
			for ; next < len(lines); next++ {
				if match(lines[next]) {
					return lines[next]
				}
			}
			p.t.Fatalf("%s exited (%v) before printing %s", p.name, p.err, what)
		}
		select {
		case <-changed:
		case <-p.done:
		case <-deadline.C:
			p.t.Fatalf("%s printed no %s within %s", p.name, what, timeout)
		}
	}
}

// waitLog waits, as waitLine, for a JSON log record (--log-format json)
// with message msg for which match (nil = any) accepts the record.
func (p *proc) waitLog(timeout time.Duration, msg string, match func(rec map[string]any) bool) map[string]any {
	p.t.Helper()
	var rec map[string]any
	p.waitLine(timeout, fmt.Sprintf("log record %q", msg), func(line string) bool {
		r, ok := logRecord(line)
		if !ok || r["msg"] != msg || (match != nil && !match(r)) {
			return false
		}
		rec = r
		return true
	})
	return rec
}

// tail returns the last n lines of the process's output.
func (p *proc) tail(n int) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	lines := p.lines
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := strings.Join(lines, "\n")
	if len(p.partial) > 0 {
		out += "\n" + string(p.partial)
	}
	return out
}

// logRecord decodes a line of --log-format json output.
func logRecord(line string) (map[string]any, bool) {
	if !strings.HasPrefix(line, "{") {
		return nil, false
	}
	var rec map[string]any
	if err := json.Unmarshal([]byte(line), &rec); err != nil {
		return nil, false
	}
	return rec, true
}

// intField returns the integer field key of a log record, or -1.
func intField(rec map[string]any, key string) int {
	if v, ok := rec[key].(float64); ok {
		return int(v)
	}
	return -1
}

// result is the outcome of a craft command run to completion with run.
type result struct {
	stdout, stderr string
	code           int // exit status; -1 if killed by a signal
}

// run runs craft with args in dir to completion (at most timeout) and
// returns its output and exit status. It fails the test only if the process
// cannot be started or runs out of time.
func run(t testing.TB, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, craftBin, args...)
	cmd.Dir = dir
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { killGroup(cmd.Process); return nil }
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("craft %s: still running after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), timeout, r.stdout, r.stderr)
	case errors.As(err, &exit):
		r.code = exit.ExitCode()
	case err != nil:
		t.Fatalf("craft %s: %v", strings.Join(args, " "), err)
	}
	return r
}

// mustRun is run that fails the test unless craft exits with status 0.
func mustRun(t testing.TB, dir string, timeout time.Duration, args ...string) result {
	t.Helper()
	r := run(t, dir, timeout, args...)
	if r.code != 0 {
		t.Fatalf("craft %s: exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// sets turns key=value pairs into repeated --set flags.
func sets(kv ...string) []string {
	args := make([]string, 0, 2*len(kv))
	for _, s := range kv {
		args = append(args, "--set", s)
	}
	return args
}

// tiny returns the --set flags of a small, fast run of the built-in addition
// default: one layer 32 wide, steps steps, a checkpoint every every steps,
// then the extra key=value pairs.
func tiny(steps, every int, extra ...string) []string {
	kv := []string{
		"model.n_layer=1", "model.n_embd=32",
		fmt.Sprintf("train.steps=%d", steps), fmt.Sprintf("checkpoint.every=%d", every),
	}
	return sets(append(kv, extra...)...)
}

// args concatenates argument lists.
func args(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}
