package e2e

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadCompose loads the root docker-compose.yml with compose-go, the loader
// of Docker Compose v2 (`docker compose`): it validates the file against the
// Compose Specification's schema and resolves anchors, merge keys and
// ${VAR:-default} interpolation exactly as `docker compose up` does. env is
// the environment the interpolation sees.
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	file, err := filepath.Abs("../docker-compose.yml")
	if err != nil {
		t.Fatal(err)
	}
	var kv []string
	for k, v := range env {
		kv = append(kv, k+"="+v)
	}
	opts, err := cli.NewProjectOptions([]string{file}, cli.WithName("craft"), cli.WithEnv(kv))
	if err != nil {
		t.Fatal(err)
	}
	p, err := cli.ProjectFromOptions(context.Background(), opts)
	if err != nil {
		t.Fatalf("docker compose v2 would refuse docker-compose.yml: %v", err)
	}
	return p
}

// TestComposeFileV2 checks that the compose file means what the README says
// under Compose v2 too: the machines here run the standalone docker-compose
// 1.29 (TestComposeCluster runs the file for real with whichever is
// installed), so v2's reading of the file is checked here, without Docker.
func TestComposeFileV2(t *testing.T) {
	p := loadCompose(t, nil)
	names := p.ServiceNames()
	slices.Sort(names)
	if want := []string{"coordinator", "worker1", "worker2", "worker3"}; !slices.Equal(names, want) {
		t.Fatalf("services = %v; want %v", names, want)
	}
	co, err := p.GetService("coordinator")
	if err != nil {
		t.Fatal(err)
	}
	if co.Image != "craft:latest" {
		t.Errorf("coordinator image = %q; want craft:latest (make image)", co.Image)
	}
	if len(co.Ports) != 1 || co.Ports[0].Target != 8080 || co.Ports[0].Published != "8080" {
		t.Errorf("coordinator ports = %+v; want 8080 published as 8080 (/status)", co.Ports)
	}
	if len(co.Volumes) != 1 || co.Volumes[0].Source != "checkpoints" || co.Volumes[0].Target != "/data" {
		t.Errorf("coordinator volumes = %+v; want the named volume checkpoints at /data", co.Volumes)
	}
	if !slices.Contains(co.Command, "checkpoint.path=/data/craft.db") {
		t.Errorf("coordinator command %q does not keep the checkpoints on the volume", co.Command)
	}
	if _, ok := p.Volumes["checkpoints"]; !ok {
		t.Errorf("volumes = %v; want checkpoints declared", p.Volumes)
	}
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("worker%d", i)
		w, err := p.GetService(name)
		if err != nil {
			t.Fatal(err)
		}
		// The x-worker anchor and its merge key: v2 must expand them as 1.29 does.
		if w.Image != "craft:latest" || w.Restart != "on-failure" {
			t.Errorf("%s: image %q restart %q; want craft:latest, on-failure (from x-worker)", name, w.Image, w.Restart)
		}
		if _, ok := w.DependsOn["coordinator"]; !ok {
			t.Errorf("%s: depends_on = %v; want coordinator", name, w.DependsOn)
		}
		want := types.ShellCommand{"worker", "--join", "coordinator:7070", "--listen", "0.0.0.0:7071",
			"--advertise", name + ":7071", "--threads", "1"}
		if !slices.Equal(w.Command, want) {
			t.Errorf("%s: command = %q; want %q", name, w.Command, want)
		}
	}
}

// TestComposeFileV2Overrides checks the variables the file documents.
func TestComposeFileV2Overrides(t *testing.T) {
	p := loadCompose(t, map[string]string{"CRAFT_IMAGE": "craft:dev", "CRAFT_HTTP_PORT": "18080", "CRAFT_WORKER_THREADS": "3"})
	for _, s := range p.Services {
		if s.Image != "craft:dev" {
			t.Errorf("%s: image = %q; want craft:dev from CRAFT_IMAGE", s.Name, s.Image)
		}
		if s.Name != "coordinator" && !slices.Equal(s.Command[len(s.Command)-2:], []string{"--threads", "3"}) {
			t.Errorf("%s: command = %q; want --threads 3 from CRAFT_WORKER_THREADS", s.Name, s.Command)
		}
	}
	co, err := p.GetService("coordinator")
	if err != nil {
		t.Fatal(err)
	}
	if len(co.Ports) != 1 || co.Ports[0].Published != "18080" {
		t.Errorf("coordinator ports = %+v; want 18080 from CRAFT_HTTP_PORT", co.Ports)
	}
}
