package coordinator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/craftml/craft/dataset"
)

// plannerChecker holds what the invariants compare across events.
type plannerChecker struct {
	gen  uint64
	done bool
}

// check returns the first invariant p breaks, or "".
func (c *plannerChecker) check(p *Planner, batch int) string {
	members := p.Members()
	ids := make([]string, len(members))
	for i, m := range members {
		ids[i] = m.ID
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) {
		return fmt.Sprintf("members %v not unique", ids)
	}
	if p.cfg.MaxWorkers > 0 && len(members) > p.cfg.MaxWorkers {
		return fmt.Sprintf("%d members; max_workers is %d", len(members), p.cfg.MaxWorkers)
	}
	if c.done && !p.Done() {
		return "a done run came back to life"
	}
	c.done = p.Done()
	plan := p.Plan()
	if plan == nil {
		if !p.Done() && len(members) >= p.cfg.MinWorkers {
			return fmt.Sprintf("no plan with %d members (min %d)", len(members), p.cfg.MinWorkers)
		}
		return ""
	}
	if plan.Gen < c.gen {
		return fmt.Sprintf("generation went back from %d to %d", c.gen, plan.Gen)
	}
	newGen := plan.Gen > c.gen
	c.gen = plan.Gen
	if plan.Done {
		return ""
	}
	if newGen && plan.Start != p.Committed() {
		return fmt.Sprintf("generation %d starts at %d, not at the committed checkpoint %d", plan.Gen, plan.Start, p.Committed())
	}
	ring := make([]string, len(plan.Ring))
	for i, m := range plan.Ring {
		ring[i] = m.ID
	}
	if !slices.Equal(ring, ids) {
		return fmt.Sprintf("ring %v is not the live members %v in join order", ring, ids)
	}
	if len(ring) < p.cfg.MinWorkers {
		return fmt.Sprintf("ring of %d under min_workers %d", len(ring), p.cfg.MinWorkers)
	}
	if plan.Start < p.cfg.StartStep || plan.Start > plan.Until || plan.Until > p.cfg.TotalSteps {
		return fmt.Sprintf("steps %d..%d outside %d..%d", plan.Start, plan.Until, p.cfg.StartStep, p.cfg.TotalSteps)
	}
	if plan.Start > p.Committed() {
		return fmt.Sprintf("generation starts at %d, past the committed checkpoint %d", plan.Start, p.Committed())
	}
	if batch > 0 {
		next, lo, hi := 0, batch, 0
		for r := range ring {
			off, n := dataset.Share(batch, len(ring), r)
			if off != next {
				return fmt.Sprintf("share of rank %d starts at %d; want %d", r, off, next)
			}
			next += n
			lo, hi = min(lo, n), max(hi, n)
		}
		if next != batch || hi-lo > 1 {
			return fmt.Sprintf("shares cover %d of %d rows, sizes %d..%d", next, batch, lo, hi)
		}
	}
	return ""
}

// checkPlannerInvariants is the check of TestPlannerData, which keeps no
// state between commands.
func checkPlannerInvariants(p *Planner, batch int) string {
	c := plannerChecker{gen: ^uint64(0) >> 1}
	if plan := p.Plan(); plan != nil {
		c.gen = plan.Gen // no earlier generation to compare with
	}
	return c.check(p, batch)
}

// TestPlannerRandom feeds seeded random event sequences (joins, failures,
// reports of the current generation by its ranks, and of stale ones,
// commits) and checks the invariants after every event, and that replaying a
// sequence publishes the same plans.
func TestPlannerRandom(t *testing.T) {
	extended, generations, finished := 0, 0, 0
	for seed := range uint64(300) {
		rng := rand.New(rand.NewPCG(seed, 7))
		cfg := PlannerConfig{
			MinWorkers: 1 + rng.IntN(3),
			MaxWorkers: rng.IntN(6),
			TotalSteps: 10 + rng.IntN(200),
			LeaseSteps: 1 + rng.IntN(50),
		}
		cfg.StartStep = rng.IntN(cfg.TotalSteps)
		batch := 1 + rng.IntN(64)
		p := NewPlanner(cfg)
		var c plannerChecker
		var events []Event
		var out strings.Builder
		for i := range 120 {
			ev := randomEvent(rng, p)
			events = append(events, ev)
			before := p.Plan()
			plan, err := p.Step(ev)
			fmt.Fprintf(&out, "%#v -> %s %v\n", ev, renderPlan(plan, batch), err)
			if msg := c.check(p, batch); msg != "" {
				t.Fatalf("seed %d, config %+v, event %d %#v: %s\nevents so far:\n%s", seed, cfg, i, ev, msg, out.String())
			}
			if plan != nil && before != nil && plan.Gen == before.Gen && plan.Until > before.Until {
				extended++
			}
			if plan != nil && (before == nil || plan.Gen > before.Gen) {
				generations++
			}
		}
		if p.Done() {
			finished++
		}
		if again := replay(cfg, batch, events); again != out.String() {
			t.Fatalf("seed %d: replaying the same events published other plans:\n%s\nthen\n%s", seed, out.String(), again)
		}
	}
	t.Logf("300 runs: %d generations, %d lease extensions, %d runs finished", generations, extended, finished)
	if extended == 0 || generations == 0 || finished == 0 {
		t.Errorf("the random events never extended a lease, started a generation or finished a run: they test little")
	}
}

// randomEvent draws an event that could happen next in a run planned by p:
// mostly reports from the ranks of the current plan within its lease.
func randomEvent(rng *rand.Rand, p *Planner) Event {
	ids := []string{"a", "b", "c", "d", "e", "f", "g"}
	plan := p.Plan()
	switch k := rng.IntN(20); {
	case k < 3:
		return Joined{Member{ID: ids[rng.IntN(len(ids))], RingAddr: "x"}}
	case k < 5:
		return Failed{ID: ids[rng.IntN(len(ids))]}
	case k < 6 && plan != nil:
		return Reported{ID: ids[0], Gen: plan.Gen - 1, Step: plan.Until} // stale
	case k < 16 && plan != nil && len(plan.Ring) > 0 && !plan.Done:
		m := plan.Ring[rng.IntN(len(plan.Ring))]
		step := plan.Start + rng.IntN(plan.Until-plan.Start+1)
		return Reported{ID: m.ID, Gen: plan.Gen, Step: step, Stopped: rng.IntN(50) == 0}
	default:
		// A checkpoint of a step the run reached.
		lo := p.Committed()
		hi := lo
		if plan != nil {
			hi = max(lo, plan.Until)
		}
		return Committed{Step: lo + rng.IntN(hi-lo+1)}
	}
}

func replay(cfg PlannerConfig, batch int, events []Event) string {
	p := NewPlanner(cfg)
	var out strings.Builder
	for _, ev := range events {
		plan, err := p.Step(ev)
		fmt.Fprintf(&out, "%#v -> %s %v\n", ev, renderPlan(plan, batch), err)
	}
	return out.String()
}
