package optim

import (
	"math"
	"testing"
)

func TestScheduleLR(t *testing.T) {
	s := Schedule{MaxLR: 1e-3, MinLR: 1e-4, WarmupSteps: 10, DecaySteps: 110}
	tests := []struct {
		name string
		s    Schedule
		it   int
		want float64
	}{
		{"first warm-up iteration", s, 0, 1e-3 * 1 / 11},
		{"last warm-up iteration", s, 9, 1e-3 * 10 / 11},
		{"end of warm-up", s, 10, 1e-3},
		{"cosine midpoint", s, 60, 5.5e-4},
		{"cosine quarter", s, 35, 1e-4 + 0.5*(1+math.Cos(math.Pi/4))*9e-4},
		{"end of decay", s, 110, 1e-4},
		{"after decay", s, 111, 1e-4},
		{"long after decay", s, 1 << 30, 1e-4},
		{"no warm-up", Schedule{MaxLR: 1, MinLR: 0, DecaySteps: 4}, 0, 1},
		{"no warm-up midpoint", Schedule{MaxLR: 1, MinLR: 0, DecaySteps: 4}, 2, 0.5},
		{"constant", Schedule{MaxLR: 0.1, MinLR: 0.1, DecaySteps: 100}, 50, 0.1},
		{"decay ends at warm-up", Schedule{MaxLR: 1, MinLR: 0.5, WarmupSteps: 3, DecaySteps: 3}, 3, 1},
		{"decay ends at warm-up, after", Schedule{MaxLR: 1, MinLR: 0.5, WarmupSteps: 3, DecaySteps: 3}, 4, 0.5},
		{"decay before warm-up ends", Schedule{MaxLR: 1, MinLR: 0.5, WarmupSteps: 5, DecaySteps: 2}, 5, 0.5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.s.LR(tt.it); math.Abs(got-tt.want) > 1e-15 {
				t.Errorf("%+v.LR(%d) = %v; want %v", tt.s, tt.it, got, tt.want)
			}
		})
	}
}

func TestScheduleValidate(t *testing.T) {
	tests := []struct {
		name string
		s    Schedule
		ok   bool
	}{
		{"fine", Schedule{MaxLR: 1e-3, MinLR: 1e-4, WarmupSteps: 10, DecaySteps: 100}, true},
		{"negative lr", Schedule{MaxLR: -1}, false},
		{"NaN min", Schedule{MaxLR: 1, MinLR: math.NaN()}, false},
		{"negative warm-up", Schedule{MaxLR: 1, WarmupSteps: -1}, false},
		{"negative decay", Schedule{MaxLR: 1, DecaySteps: -1}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.s.Validate(); (err == nil) != tt.ok {
				t.Errorf("%+v.Validate() = %v; want ok=%v", tt.s, err, tt.ok)
			}
		})
	}
}
