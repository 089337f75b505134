package coordinator

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/craftml/craft/dataset"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the expected outputs of testdata/planner from the planner")

// TestPlannerData runs the scenarios of testdata/planner/*.txt. A scenario is
// a list of commands, each followed by "----" and the expected output up to a
// blank line:
//
//	config min=2 max=3 total=100 lease=20 start=0 batch=12
//	join ID             a worker joins (its ring address is ID:1)
//	fail ID             a worker fails or leaves
//	report ID GEN STEP [stopped]
//	commit STEP         the checkpoint of STEP is committed
//	state               the live members, committed step, done
//
// The output of an event is the plan it publishes ("-" for none): its
// generation, ring with each rank's share of the global batch, and its steps.
// go test -run TestPlannerData -rewrite regenerates the outputs; review the
// diff.
func TestPlannerData(t *testing.T) {
	files, err := filepath.Glob("testdata/planner/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scenarios in testdata/planner: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { runPlannerFile(t, file) })
	}
}

type plannerCase struct {
	line    int
	cmd     string
	want    []string
	comment []string // lines before cmd
}

func runPlannerFile(t *testing.T, file string) {
	cases := parsePlannerFile(t, file)
	var p *Planner
	batch := 0
	var out strings.Builder
	for i := range cases {
		c := &cases[i]
		got, err := plannerCommand(&p, &batch, c.cmd)
		if err != nil {
			got = []string{"error: " + err.Error()}
		}
		if p != nil {
			if msg := checkPlannerInvariants(p, batch); msg != "" {
				t.Errorf("%s:%d: %s: invariant broken: %s", file, c.line, c.cmd, msg)
			}
		}
		if !*rewrite && strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s:%d: %s\n got: %s\nwant: %s", file, c.line, c.cmd,
				strings.Join(got, "\n      "), strings.Join(c.want, "\n      "))
		}
		for _, l := range c.comment {
			out.WriteString(l + "\n")
		}
		fmt.Fprintf(&out, "%s\n----\n%s\n\n", c.cmd, strings.Join(got, "\n"))
	}
	if *rewrite {
		if err := os.WriteFile(file, []byte(strings.TrimRight(out.String(), "\n")+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parsePlannerFile(t *testing.T, file string) []plannerCase {
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []plannerCase
	var comment []string
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if strings.TrimSpace(line) == "" && comment == nil {
			continue
		}
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			comment = append(comment, line)
			continue
		}
		c := plannerCase{line: n, cmd: line, comment: comment}
		comment = nil
		if !sc.Scan() || sc.Text() != "----" {
			t.Fatalf("%s:%d: %q: want a ---- line after the command", file, n, line)
		}
		n++
		for sc.Scan() {
			n++
			if sc.Text() == "" {
				break
			}
			c.want = append(c.want, sc.Text())
		}
		cases = append(cases, c)
	}
	return cases
}

// plannerCommand runs one command and returns its output lines.
func plannerCommand(pp **Planner, batch *int, cmd string) ([]string, error) {
	f := strings.Fields(cmd)
	num := func(i int) (int, error) {
		if i >= len(f) {
			return 0, fmt.Errorf("%s: want %d arguments", f[0], i)
		}
		return strconv.Atoi(f[i])
	}
	if f[0] == "config" {
		var cfg PlannerConfig
		for _, kv := range f[1:] {
			k, v, _ := strings.Cut(kv, "=")
			n, err := strconv.Atoi(v)
			if err != nil {
				return nil, fmt.Errorf("config %s: %w", kv, err)
			}
			switch k {
			case "min":
				cfg.MinWorkers = n
			case "max":
				cfg.MaxWorkers = n
			case "total":
				cfg.TotalSteps = n
			case "lease":
				cfg.LeaseSteps = n
			case "start":
				cfg.StartStep = n
			case "batch":
				*batch = n
			default:
				return nil, fmt.Errorf("config: unknown key %q", k)
			}
		}
		*pp = NewPlanner(cfg)
		return []string{fmt.Sprintf("done=%t", (*pp).Done())}, nil
	}
	p := *pp
	if p == nil {
		return nil, fmt.Errorf("%s before config", f[0])
	}
	var ev Event
	switch f[0] {
	case "join":
		ev = Joined{Member{ID: f[1], RingAddr: f[1] + ":1"}}
	case "fail":
		ev = Failed{ID: f[1]}
	case "report":
		gen, err := num(2)
		if err != nil {
			return nil, err
		}
		step, err := num(3)
		if err != nil {
			return nil, err
		}
		ev = Reported{ID: f[1], Gen: uint64(gen), Step: step, Stopped: len(f) > 4 && f[4] == "stopped"}
	case "commit":
		step, err := num(1)
		if err != nil {
			return nil, err
		}
		ev = Committed{Step: step}
	case "state":
		var ids []string
		for _, m := range p.Members() {
			ids = append(ids, m.ID)
		}
		return []string{fmt.Sprintf("members=[%s] committed=%d done=%t", strings.Join(ids, " "), p.Committed(), p.Done())}, nil
	default:
		return nil, fmt.Errorf("unknown command %q", f[0])
	}
	plan, err := p.Step(ev)
	if err != nil {
		return nil, err
	}
	return []string{renderPlan(plan, *batch)}, nil
}

// renderPlan shows a plan with each rank's share of the global batch as the
// service hands it out: "g2 ring=[a:0+6 b:6+6] steps=10..30".
func renderPlan(p *Plan, batch int) string {
	if p == nil {
		return "-"
	}
	ring := make([]string, len(p.Ring))
	for r, m := range p.Ring {
		ring[r] = m.ID
		if batch > 0 && !p.Done {
			off, n := dataset.Share(batch, len(p.Ring), r)
			ring[r] = fmt.Sprintf("%s:%d+%d", m.ID, off, n)
		}
	}
	s := fmt.Sprintf("g%d ring=[%s] steps=%d..%d", p.Gen, strings.Join(ring, " "), p.Start, p.Until)
	if p.Done {
		s += " done"
	}
	return s
}
