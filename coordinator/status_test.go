package coordinator

import (
	"io"
	"math"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestStatusStepTimes checks that /status and /metrics show where each
// worker's steps go: the moving averages of the reported parts.
func TestStatusStepTimes(t *testing.T) {
	svc, _ := newTestService(t)
	join(t, svc, "a")
	join(t, svc, "b")
	ms := func(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }
	step := func(id string, n int, c, a, u float64) {
		svc.Report(id, Report{Gen: 1, Step: n, Loss: 2, Tokens: 64, Duration: ms(c + a + u), Compute: ms(c), AllReduce: ms(a), Update: ms(u)})
	}
	step("a", 1, 20, 4, 1)
	step("a", 2, 30, 14, 1)
	svc.Report("a", Report{Gen: 1, Step: 2, HasEval: true, EvalLoss: 1.5, Compute: ms(500)}) // an evaluation is no step
	step("b", 1, 22, 2, 1)
	byID := map[string]WorkerStatus{}
	for _, w := range svc.Status().Workers {
		byID[w.ID] = w
	}
	// a: the first step sets the averages, the second moves them by stepTimeWeight.
	want := map[string][3]float64{
		"a": {20 + stepTimeWeight*10, 4 + stepTimeWeight*10, 1},
		"b": {22, 2, 1},
	}
	for id, w := range want {
		got := byID[id]
		if math.Abs(got.ComputeMs-w[0]) > 0.01 || math.Abs(got.AllReduceMs-w[1]) > 0.01 || math.Abs(got.UpdateMs-w[2]) > 0.01 {
			t.Errorf("worker %s: compute/allreduce/update = %v/%v/%v ms; want %v", id, got.ComputeMs, got.AllReduceMs, got.UpdateMs, w)
		}
	}

	rec := httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Result().Body)
	for _, line := range []string{
		`craft_worker_step_seconds{part="compute",worker="a"} 0.021`,
		`craft_worker_step_seconds{part="allreduce",worker="b"} 0.002`,
		`craft_worker_step_seconds{part="update",worker="b"} 0.001`,
	} {
		if !strings.Contains(string(body), line) {
			t.Errorf("/metrics lacks %q; got:\n%s", line, body)
		}
	}
	rec = httptest.NewRecorder()
	svc.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/status", nil))
	body, _ = io.ReadAll(rec.Result().Body)
	for _, key := range []string{`"compute_ms": 21`, `"allreduce_ms": 5`, `"update_ms": 1`} {
		if !strings.Contains(string(body), key) {
			t.Errorf("/status lacks %s; got:\n%s", key, body)
		}
	}
}
