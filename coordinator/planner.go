package coordinator

import (
	"errors"
	"fmt"
)

// Planner errors.
var (
	// ErrFull: a join beyond cluster.max_workers.
	ErrFull = errors.New("coordinator: the run has max_workers workers")
	// ErrDuplicate: a join with the ID of a live worker.
	ErrDuplicate = errors.New("coordinator: a worker with this ID is already in the run")
)

// PlannerConfig shapes a Planner.
type PlannerConfig struct {
	MinWorkers int // no generation runs with fewer workers
	MaxWorkers int // joins beyond it are refused; 0 = no limit
	TotalSteps int // the run is done when the checkpoint of this step is committed
	LeaseSteps int // how far past the last report workers may run before they hear again
	StartStep  int // the committed checkpoint the run resumes from (0 for a new run)
}

// Member is a worker in the run.
type Member struct {
	ID       string
	RingAddr string
}

// Plan is one generation: the ring and the steps it may run. Every worker
// of Ring gets it; its rank is its index in Ring.
type Plan struct {
	Gen   uint64
	Ring  []Member
	Start int  // the committed step every rank starts from
	Until int  // ranks may run up to this step
	Done  bool // the run is complete
}

// Event is something the planner learns: Joined, Failed, Reported or
// Committed.
type Event interface{ event() }

// Joined: a worker joined.
type Joined struct{ Member Member }

// Failed: a worker died, left, or its session ended.
type Failed struct{ ID string }

// Reported: a worker completed step in generation Gen; Stopped says early
// stopping ended the run there; Failed says the worker's generation failed
// (an all-reduce or a checkpoint), so the ring must start another from the
// last checkpoint although no one left.
type Reported struct {
	ID      string
	Gen     uint64
	Step    int
	Stopped bool
	Failed  bool
}

// Committed: the checkpoint of Step is in the store.
type Committed struct{ Step int }

func (Joined) event()    {}
func (Failed) event()    {}
func (Reported) event()  {}
func (Committed) event() {}

// Planner decides, from events alone, which workers train which steps: the
// run's pure logic, with no clock, network or disk. Each generation's ring
// is the live workers in join order; it starts from the last committed
// checkpoint (survivors of a failure roll back to it, a joiner loads it), and
// may run LeaseSteps past the furthest report before it must hear again, so
// the coordinator is not on every step's path. The global batch never
// changes: only its split over the ring does. Not safe for concurrent use.
type Planner struct {
	cfg       PlannerConfig
	members   []Member
	gen       uint64
	committed int
	reported  int
	stoppedAt int // early stopping ended the run at this step; 0 = no
	cur       *Plan
	done      bool
}

// NewPlanner returns a planner for a run that resumes at cfg.StartStep.
func NewPlanner(cfg PlannerConfig) *Planner {
	cfg.MinWorkers = max(cfg.MinWorkers, 1)
	cfg.LeaseSteps = max(cfg.LeaseSteps, 1)
	return &Planner{cfg: cfg, committed: cfg.StartStep, reported: cfg.StartStep, done: cfg.StartStep >= cfg.TotalSteps}
}

// Plan returns the current plan, or nil while none runs.
func (p *Planner) Plan() *Plan { return p.cur }

// Members returns the live workers in join order.
func (p *Planner) Members() []Member { return append([]Member(nil), p.members...) }

// Committed returns the step of the last committed checkpoint.
func (p *Planner) Committed() int { return p.committed }

// Done reports whether the run is complete.
func (p *Planner) Done() bool { return p.done }

// Step feeds one event and returns the plan to publish to every worker of
// its ring, or nil when nothing changes. A Joined refused for being full or
// a duplicate returns the error and changes nothing.
func (p *Planner) Step(ev Event) (*Plan, error) {
	switch e := ev.(type) {
	case Joined:
		for _, m := range p.members {
			if m.ID == e.Member.ID {
				return nil, fmt.Errorf("%w: %q", ErrDuplicate, m.ID)
			}
		}
		if p.cfg.MaxWorkers > 0 && len(p.members) >= p.cfg.MaxWorkers {
			return nil, fmt.Errorf("%w (%d)", ErrFull, p.cfg.MaxWorkers)
		}
		p.members = append(p.members, e.Member)
		return p.replan(), nil
	case Failed:
		for i, m := range p.members {
			if m.ID == e.ID {
				p.members = append(p.members[:i], p.members[i+1:]...)
				return p.replan(), nil
			}
		}
		return nil, nil
	case Reported:
		if p.cur == nil || e.Gen != p.cur.Gen || p.done {
			return nil, nil
		}
		if e.Failed {
			return p.replan(), nil
		}
		if e.Stopped && (p.stoppedAt == 0 || e.Step < p.stoppedAt) {
			p.stoppedAt = e.Step
		}
		p.reported = max(p.reported, e.Step)
		if p.stoppedAt > 0 {
			// The run ends at stoppedAt, which the ranks already may reach
			// (no rank reports past its lease): no more steps to hand out.
			return nil, nil
		}
		if p.cur.Until < p.cfg.TotalSteps && p.reported+p.cfg.LeaseSteps/2 >= p.cur.Until {
			next := *p.cur
			next.Until = min(p.cfg.TotalSteps, p.reported+p.cfg.LeaseSteps)
			p.cur = &next
			return p.cur, nil
		}
		return nil, nil
	case Committed:
		p.committed = max(p.committed, e.Step)
		if !p.done && (p.committed >= p.cfg.TotalSteps || (p.stoppedAt > 0 && p.committed >= p.stoppedAt)) {
			p.done = true
			next := Plan{Gen: p.gen, Start: p.committed, Until: p.committed, Done: true}
			if p.cur != nil {
				next.Ring = p.cur.Ring
			}
			p.cur = &next
			return p.cur, nil
		}
		return nil, nil
	}
	return nil, fmt.Errorf("coordinator: unknown event %T", ev)
}

// replan starts a new generation over the live workers, or stops planning
// while they are fewer than MinWorkers.
func (p *Planner) replan() *Plan {
	if p.done {
		// A worker joining a finished run learns it is done.
		return &Plan{Gen: p.gen, Ring: append([]Member(nil), p.members...), Start: p.committed, Until: p.committed, Done: true}
	}
	if len(p.members) < p.cfg.MinWorkers {
		p.cur = nil
		return nil
	}
	p.gen++
	p.reported = p.committed
	p.cur = &Plan{
		Gen:   p.gen,
		Ring:  append([]Member(nil), p.members...),
		Start: p.committed,
		Until: min(p.cfg.TotalSteps, p.committed+p.cfg.LeaseSteps),
	}
	return p.cur
}
