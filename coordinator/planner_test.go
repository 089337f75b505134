package coordinator

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// show renders a plan compactly: "g2 [a b] 0..64" or "done@100", "-" for nil.
func show(p *Plan) string {
	if p == nil {
		return "-"
	}
	if p.Done {
		return fmt.Sprintf("done@%d", p.Start)
	}
	ids := make([]string, len(p.Ring))
	for i, m := range p.Ring {
		ids[i] = m.ID
	}
	return fmt.Sprintf("g%d [%s] %d..%d", p.Gen, strings.Join(ids, " "), p.Start, p.Until)
}

func TestPlannerScenarios(t *testing.T) {
	join := func(id string) Event { return Joined{Member{ID: id, RingAddr: id + ":1"}} }
	type step struct {
		ev   Event
		want string // show() of the published plan
	}
	tests := []struct {
		name  string
		cfg   PlannerConfig
		steps []step
	}{
		{"waits for min workers, then runs", PlannerConfig{MinWorkers: 2, TotalSteps: 100, LeaseSteps: 20}, []step{
			{join("a"), "-"},
			{join("b"), "g1 [a b] 0..20"},
			{Reported{"a", 1, 5, false, false}, "-"},
			{Reported{"a", 1, 10, false, false}, "g1 [a b] 0..30"},
			{Reported{"b", 1, 9, false, false}, "-"},
		}},
		{"failure rolls back to the last checkpoint", PlannerConfig{MinWorkers: 1, TotalSteps: 100, LeaseSteps: 20}, []step{
			{join("a"), "g1 [a] 0..20"},
			{join("b"), "g2 [a b] 0..20"},
			{join("c"), "g3 [a b c] 0..20"},
			{Reported{"a", 3, 12, false, false}, "g3 [a b c] 0..32"},
			{Committed{10}, "-"},
			{Failed{"b"}, "g4 [a c] 10..30"},
			{Reported{"a", 3, 25, false, false}, "-"}, // stale generation: ignored
			{Failed{"zz"}, "-"},
		}},
		{"below min stops planning until a join", PlannerConfig{MinWorkers: 2, TotalSteps: 50, LeaseSteps: 100}, []step{
			{join("a"), "-"},
			{join("b"), "g1 [a b] 0..50"},
			{Committed{20}, "-"},
			{Failed{"a"}, "-"},
			{join("c"), "g2 [b c] 20..50"},
			{Committed{50}, "done@50"},
			{join("d"), "done@50"},
		}},
		{"early stop ends the run at its checkpoint", PlannerConfig{MinWorkers: 1, TotalSteps: 1000, LeaseSteps: 100}, []step{
			{join("a"), "g1 [a] 0..100"},
			{Reported{"a", 1, 40, true, false}, "-"},
			{Committed{40}, "done@40"},
		}},
		{"a failed generation is replaced, from the last checkpoint", PlannerConfig{MinWorkers: 2, TotalSteps: 100, LeaseSteps: 20}, []step{
			{join("a"), "-"},
			{join("b"), "g1 [a b] 0..20"},
			{Committed{10}, "-"},
			{Reported{"a", 1, 12, false, true}, "g2 [a b] 10..30"},
			{Reported{"b", 1, 12, false, true}, "-"}, // the same failure, seen by the other rank: already replaced
		}},
		{"resumed run starts at its checkpoint", PlannerConfig{MinWorkers: 1, TotalSteps: 100, LeaseSteps: 30, StartStep: 60}, []step{
			{join("a"), "g1 [a] 60..90"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := NewPlanner(tt.cfg)
			for i, s := range tt.steps {
				got, err := p.Step(s.ev)
				if err != nil {
					t.Fatalf("event %d %#v: %v", i, s.ev, err)
				}
				if show(got) != s.want {
					t.Fatalf("event %d %#v: published %s; want %s", i, s.ev, show(got), s.want)
				}
			}
		})
	}
}

func TestPlannerRefusesJoins(t *testing.T) {
	p := NewPlanner(PlannerConfig{MinWorkers: 1, MaxWorkers: 2, TotalSteps: 10, LeaseSteps: 5})
	for _, id := range []string{"a", "b"} {
		if _, err := p.Step(Joined{Member{ID: id}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Step(Joined{Member{ID: "a"}}); !errors.Is(err, ErrDuplicate) {
		t.Errorf("join of a live ID = %v; want ErrDuplicate", err)
	}
	if _, err := p.Step(Joined{Member{ID: "c"}}); !errors.Is(err, ErrFull) {
		t.Errorf("join beyond max_workers = %v; want ErrFull", err)
	}
	if got := len(p.Members()); got != 2 {
		t.Errorf("Members() has %d workers after refused joins; want 2", got)
	}
}
