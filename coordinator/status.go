package coordinator

import (
	"encoding/json"
	"math"
	"net/http"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Status is the run as /status reports it.
type Status struct {
	Run                string         `json:"run"`
	State              string         `json:"state"` // waiting (for min_workers), running, done
	Generation         uint64         `json:"generation"`
	Step               int            `json:"step"`
	TotalSteps         int            `json:"total_steps"`
	Loss               float64        `json:"loss"`
	LastValLoss        float64        `json:"last_val_loss"`
	LastValAccuracy    float64        `json:"last_val_accuracy"`
	LastCheckpointStep int            `json:"last_checkpoint_step"`
	Workers            []WorkerStatus `json:"workers"`
	Tokens             int64          `json:"tokens"` // loss targets trained on since the coordinator started
	UptimeSeconds      float64        `json:"uptime_s"`
}

// WorkerStatus is one worker in Status.
type WorkerStatus struct {
	ID         string    `json:"id"`
	Address    string    `json:"address"`
	Rank       int       `json:"rank"` // -1 while not in a ring
	Step       int       `json:"step"`
	TokensPerS float64   `json:"tokens_per_s"`
	LastSeen   time.Time `json:"last_seen"`
	// Where this worker's steps go, averaged over about the last 10 steps:
	// forward and backward (the all-reduce's work that overlaps backward
	// included), the wait for the gradient's sum after backward, and the
	// optimizer update. A large allreduce_ms on every worker points at the
	// network; on one worker only, at the others being slower.
	ComputeMs   float64 `json:"compute_ms"`
	AllReduceMs float64 `json:"allreduce_ms"`
	UpdateMs    float64 `json:"update_ms"`
}

// Status returns the run's state now.
func (s *Service) Status() Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Status{
		Run: s.cfg.Conf.Run.Name, Step: s.step, TotalSteps: s.cfg.Conf.Train.Steps,
		Loss: s.loss, LastValLoss: s.valLoss, LastValAccuracy: s.valAcc,
		LastCheckpointStep: s.planner.Committed(), Tokens: s.tokens, UptimeSeconds: s.cfg.Now().Sub(s.started).Seconds(),
	}
	p := s.planner.Plan()
	switch {
	case s.planner.Done():
		st.State = "done"
	case p == nil:
		st.State = "waiting"
	default:
		st.State = "running"
	}
	rank := map[string]int{}
	if p != nil {
		st.Generation = p.Gen
		for r, m := range p.Ring {
			rank[m.ID] = r
		}
	}
	for _, w := range s.workers {
		r, ok := rank[w.id]
		if !ok {
			r = -1
		}
		st.Workers = append(st.Workers, WorkerStatus{ID: w.id, Address: w.addr, Rank: r, Step: w.step, TokensPerS: w.tokensPerS, LastSeen: w.lastSeen,
			ComputeMs: round2(w.computeMs), AllReduceMs: round2(w.allReduceMs), UpdateMs: round2(w.updateMs)})
	}
	sort.Slice(st.Workers, func(i, j int) bool { return st.Workers[i].ID < st.Workers[j].ID })
	return st
}

// Handler serves /status (JSON), /healthz and /metrics (Prometheus).
func (s *Service) Handler() http.Handler {
	reg := prometheus.NewRegistry()
	gauge := func(name, help string, f func(Status) float64) {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "craft", Name: name, Help: help},
			func() float64 { return f(s.Status()) }))
	}
	gauge("step", "Optimizer steps completed.", func(st Status) float64 { return float64(st.Step) })
	gauge("total_steps", "Steps of the whole run.", func(st Status) float64 { return float64(st.TotalSteps) })
	gauge("loss", "Training loss of the last reported step.", func(st Status) float64 { return st.Loss })
	gauge("val_loss", "Validation loss of the last evaluation.", func(st Status) float64 { return st.LastValLoss })
	gauge("generation", "Membership generation.", func(st Status) float64 { return float64(st.Generation) })
	gauge("workers", "Workers in the run.", func(st Status) float64 { return float64(len(st.Workers)) })
	reg.MustRegister(stepTimes{s})
	gauge("last_checkpoint_step", "Step of the last committed checkpoint.", func(st Status) float64 { return float64(st.LastCheckpointStep) })

	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(s.Status())
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	return mux
}

// round2 rounds ms to 2 decimals (10 µs) for /status.
func round2(ms float64) float64 { return math.Round(ms*100) / 100 }

// stepTimes exports every worker's averaged step parts as
// craft_worker_step_seconds{worker, part}.
type stepTimes struct{ s *Service }

var stepTimesDesc = prometheus.NewDesc("craft_worker_step_seconds",
	"Where a worker's steps go, averaged over about the last 10 steps: part is compute (forward and backward), allreduce (the wait for the gradient's sum after backward) or update.",
	[]string{"worker", "part"}, nil)

func (c stepTimes) Describe(ch chan<- *prometheus.Desc) { ch <- stepTimesDesc }

func (c stepTimes) Collect(ch chan<- prometheus.Metric) {
	for _, w := range c.s.Status().Workers {
		for _, p := range []struct {
			part string
			ms   float64
		}{{"compute", w.ComputeMs}, {"allreduce", w.AllReduceMs}, {"update", w.UpdateMs}} {
			ch <- prometheus.MustNewConstMetric(stepTimesDesc, prometheus.GaugeValue, p.ms/1e3, w.ID, p.part)
		}
	}
}
