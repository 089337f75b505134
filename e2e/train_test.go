package e2e

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// localDB is where craft train keeps the checkpoints of the default run,
// relative to its working directory (run.out_dir/run.name/craft.db).
const localDB = "runs/local/craft.db"

// TestTrainEvalGenerate trains the built-in default to the end, then reads
// its checkpoint file directly, with craft eval and with craft generate.
func TestTrainEvalGenerate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const steps, every = 120, 40
	r := mustRun(t, dir, time.Minute, args([]string{"train"}, tiny(steps, every, "train.threads=1"))...)
	if want := summary(steps); !want.MatchString(r.stdout) {
		t.Errorf("craft train stdout = %q; want a match of %q", r.stdout, want)
	}

	db := filepath.Join(dir, localDB)
	cp, held := readCheckpoints(t, db)
	if cp.Step != steps {
		t.Errorf("latest checkpoint step = %d; want %d", cp.Step, steps)
	}
	if want := []uint64{40, 80, 120}; !slices.Equal(held, want) {
		t.Errorf("checkpoint steps = %v; want %v (keep 3, every %d)", held, want, every)
	}
	if len(cp.Params) == 0 || len(cp.Params)%4 != 0 || len(cp.Optim) == 0 || len(cp.Tokenizer) == 0 || len(cp.Config) == 0 {
		t.Errorf("latest checkpoint blobs: params %d, optim %d, tokenizer %d, config %d bytes; want all set, params a multiple of 4",
			len(cp.Params), len(cp.Optim), len(cp.Tokenizer), len(cp.Config))
	}

	ev := mustRun(t, dir, time.Minute, "eval", "--checkpoint", localDB)
	if want := fmt.Sprintf("step %d,", steps); !strings.Contains(ev.stdout, want) {
		t.Errorf("craft eval stdout = %q; want it to contain %q", ev.stdout, want)
	}
	if !regexp.MustCompile(`(?m)^val accuracy \d+\.\d\d%$`).MatchString(ev.stdout) {
		t.Errorf("craft eval stdout = %q; want a line \"val accuracy N.NN%%\"", ev.stdout)
	}

	gen := []string{"generate", "--checkpoint", localDB, "--prompt", "12+35=", "--tokens", "3", "--temperature", "0"}
	g1 := mustRun(t, dir, time.Minute, gen...)
	if !regexp.MustCompile(`^12\+35=\d{3}\n$`).MatchString(g1.stdout) {
		t.Errorf("craft generate stdout = %q; want \"12+35=\" and 3 digits", g1.stdout)
	}
	if g2 := mustRun(t, dir, time.Minute, gen...); g2.stdout != g1.stdout {
		t.Errorf("craft generate at temperature 0 twice = %q, %q; want the same", g1.stdout, g2.stdout)
	}
}

// TestResumeAfterSIGKILL kills a run once it has committed a checkpoint,
// resumes it, and compares the final state with an uninterrupted run of the
// same configuration: they must be bitwise equal.
func TestResumeAfterSIGKILL(t *testing.T) {
	t.Parallel()
	const steps, every = 400, 50
	flags := tiny(steps, every, "train.threads=1")
	refDir, crashDir := t.TempDir(), t.TempDir()

	// The uninterrupted reference runs while the other run is killed and resumed.
	ref := start(t, "reference", refDir, args([]string{"train"}, flags)...)

	victim := start(t, "victim", crashDir, args([]string{"--log-format", "json", "--log-level", "debug", "train"}, flags)...)
	rec := victim.waitLog(time.Minute, "checkpoint committed", nil)
	victim.kill()
	t.Logf("killed the victim after it committed step %d", intField(rec, "step"))
	db := filepath.Join(crashDir, localDB)
	killed, _ := readCheckpoints(t, db)
	if killed.Step >= steps {
		t.Fatalf("after SIGKILL the latest checkpoint is step %d; want a run killed before its last step %d", killed.Step, steps)
	}

	res := mustRun(t, crashDir, time.Minute, args([]string{"--log-format", "json", "train", "--resume"}, flags)...)
	if want := summary(steps); !want.MatchString(res.stdout) {
		t.Errorf("craft train --resume stdout = %q; want a match of %q", res.stdout, want)
	}
	// A run started over from step 0 would end bitwise equal too: check it resumed.
	if !resumedFrom(res.stderr, killed.Step) {
		t.Errorf("craft train --resume logged no start from step %d (a record with from_step=%d, or \"resumed\" with step=%d):\n%s",
			killed.Step, killed.Step, killed.Step, res.stderr)
	}

	if err := ref.wait(time.Minute); err != nil {
		t.Fatalf("reference run: %v", err)
	}
	want, _ := readCheckpoints(t, filepath.Join(refDir, localDB))
	got, _ := readCheckpoints(t, db)
	if got.Step != steps || want.Step != steps {
		t.Fatalf("final steps: resumed %d, uninterrupted %d; want %d", got.Step, want.Step, steps)
	}
	if got.ConfigHash != want.ConfigHash {
		t.Errorf("config hash: resumed %s, uninterrupted %s; want equal", got.ConfigHash, want.ConfigHash)
	}
	if i := firstDiff(got.Params, want.Params); i >= 0 {
		t.Errorf("params of resumed and uninterrupted runs differ (%d and %d bytes, first at byte %d); want bitwise equal",
			len(got.Params), len(want.Params), i)
	}
	if i := firstDiff(got.Optim, want.Optim); i >= 0 {
		t.Errorf("optimizer state of resumed and uninterrupted runs differ (%d and %d bytes, first at byte %d); want bitwise equal",
			len(got.Optim), len(want.Optim), i)
	}
}

// summary matches the line craft train prints at the end of a run of steps steps.
func summary(steps int) *regexp.Regexp {
	return regexp.MustCompile(fmt.Sprintf(`run "local": (step )?%d\b`, steps))
}

// resumedFrom reports whether the JSON log lines in log say that training
// started from step: a record with from_step = step, or "resumed" with step.
func resumedFrom(log string, step uint64) bool {
	for _, line := range strings.Split(log, "\n") {
		rec, ok := logRecord(line)
		if !ok {
			continue
		}
		if intField(rec, "from_step") == int(step) || (rec["msg"] == "resumed" && intField(rec, "step") == int(step)) {
			return true
		}
	}
	return false
}

// firstDiff returns the index of the first byte where a and b differ, or -1
// if they are equal.
func firstDiff(a, b []byte) int {
	if bytes.Equal(a, b) {
		return -1
	}
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestBadInput checks that mistakes are refused with a message that says
// what is wrong and where.
func TestBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := "run:\n  name: typo\n  sed: 7\n"
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want []string // substrings of stderr
	}{
		{"unknown key", []string{"conf", "validate", "bad.yaml"}, []string{"bad.yaml:3:3", `unknown key "sed"`}},
		{"unknown key with --conf", []string{"train", "--conf", "bad.yaml"}, []string{"bad.yaml:3:3", `unknown key "sed"`}},
		{"bad --set", []string{"conf", "validate", "--set", "train.stepz=5"}, []string{"train.stepz"}},
		{"resume without checkpoint", []string{"train", "--resume", "--set", "run.name=fresh"}, []string{"runs/fresh/craft.db", "no checkpoint"}},
		{"eval of a missing file", []string{"eval", "--checkpoint", "nowhere.db"}, []string{"nowhere.db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := run(t, dir, time.Minute, tt.args...)
			if r.code == 0 {
				t.Errorf("craft %s: exit status 0; want non-zero", strings.Join(tt.args, " "))
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("craft %s: stderr = %q; want it to contain %q", strings.Join(tt.args, " "), r.stderr, w)
				}
			}
		})
	}
}
