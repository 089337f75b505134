package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// status is the JSON of a coordinator's /status, as issue 6 specifies it.
type status struct {
	Run                string  `json:"run"`
	State              string  `json:"state"`
	Generation         uint64  `json:"generation"`
	Step               int     `json:"step"`
	TotalSteps         int     `json:"total_steps"`
	Loss               float64 `json:"loss"`
	LastValLoss        float64 `json:"last_val_loss"`
	LastCheckpointStep int     `json:"last_checkpoint_step"`
	Workers            []struct {
		ID         string    `json:"id"`
		Address    string    `json:"address"`
		Rank       int       `json:"rank"`
		Step       int       `json:"step"`
		TokensPerS float64   `json:"tokens_per_s"`
		LastSeen   time.Time `json:"last_seen"`
	} `json:"workers"`
}

// String summarises s for test logs.
func (s status) String() string {
	out := fmt.Sprintf("%s gen %d step %d/%d loss %.4f ckpt %d workers [", s.State, s.Generation, s.Step, s.TotalSteps, s.Loss, s.LastCheckpointStep)
	for i, w := range s.Workers {
		if i > 0 {
			out += ", "
		}
		out += fmt.Sprintf("%s@%s rank %d step %d", w.ID, w.Address, w.Rank, w.Step)
	}
	return out + "]"
}

var httpClient = &http.Client{Timeout: 5 * time.Second}

// getStatus fetches and decodes base/status.
func getStatus(base string) (status, error) {
	var s status
	resp, err := httpClient.Get(base + "/status")
	if err != nil {
		return s, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return s, fmt.Errorf("GET %s/status: %s", base, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		return s, fmt.Errorf("GET %s/status: %w", base, err)
	}
	return s, nil
}

// waitStatus polls base/status every 100 ms until cond accepts it and returns
// that status. It fails the test after timeout, or as soon as stop (nil =
// never) returns an error, e.g. because a process it needs has exited; what
// names the awaited condition.
func waitStatus(t testing.TB, base string, timeout time.Duration, what string, stop func() error, cond func(status) bool) status {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last status
	var lastErr error
	for {
		s, err := getStatus(base)
		if err == nil {
			last, lastErr = s, nil
			if cond(s) {
				return s
			}
		} else {
			lastErr = err
		}
		if stop != nil {
			if err := stop(); err != nil {
				t.Fatalf("waiting for %s: %v (last status: %v, error %v)", what, err, last, lastErr)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %s (last status: %v, error %v)", what, timeout, last, lastErr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkGet fails the test unless GET base+path answers 200 OK with a body
// that contains each of want.
func checkGet(t testing.TB, base, path string, want ...string) {
	t.Helper()
	resp, err := httpClient.Get(base + path)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Errorf("GET %s: %v", path, err)
		return
	}
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %s = %s; want 200 OK", path, resp.Status)
	}
	for _, w := range want {
		if !strings.Contains(string(body), w) {
			t.Errorf("GET %s: body does not contain %q:\n%s", path, w, lastLines(string(body), 20))
		}
	}
}
