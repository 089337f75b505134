package coordinator_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps holds the import rules of DESIGN.md: the coordinator's logic uses
// the standard library, conf, dataset and internal packages (and the
// Prometheus client for /metrics); bbolt, grpc, craftpb, memberlist and
// cobra stay in their own packages. Not even internal/membership: every
// importer of coordinator (boltstore, storetest) would carry memberlist; cmd
// wires the gossip to the Service.
func TestDeps(t *testing.T) {
	checkDeps(t, "github.com/craftml/craft/coordinator",
		[]string{"github.com/craftml/craft/conf", "github.com/craftml/craft/dataset", "github.com/craftml/craft/internal/",
			"github.com/prometheus/client_golang/"},
		[]string{"go.etcd.io/bbolt", "google.golang.org/grpc", "github.com/craftml/craft/internal/craftpb",
			"github.com/hashicorp/memberlist", "github.com/spf13/cobra", "github.com/craftml/craft/model",
			"github.com/craftml/craft/worker", "github.com/craftml/craft/allreduce"})
}

// checkDeps fails if pkg imports a non-standard package outside allowed, or
// depends, even indirectly, on a package under one of denied.
func checkDeps(t *testing.T, pkg string, allowed, denied []string) {
	t.Helper()
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.Split(imp, "/")[0], ".") {
			continue // standard library
		}
		ok := false
		for _, a := range allowed {
			ok = ok || imp == a || strings.HasPrefix(imp, a)
		}
		if !ok {
			t.Errorf("%s imports %s; allowed: the standard library and %v", pkg, imp, allowed)
		}
	}
	out, err = exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, d := range denied {
			if dep == d || strings.HasPrefix(dep, d+"/") || strings.HasPrefix(dep, d) && strings.HasSuffix(d, "/") {
				t.Errorf("%s depends on %s, which it must not", pkg, dep)
			}
		}
	}
}
