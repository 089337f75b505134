package boltstore_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps holds the import rules of DESIGN.md: boltstore uses the standard
// library, bbolt and the coordinator package, and nothing of the network.
func TestDeps(t *testing.T) {
	const pkg = "github.com/craftml/craft/coordinator/boltstore"
	allowed := []string{"go.etcd.io/bbolt", "github.com/craftml/craft/coordinator"}
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if !strings.Contains(strings.Split(imp, "/")[0], ".") {
			continue
		}
		ok := false
		for _, a := range allowed {
			ok = ok || imp == a || strings.HasPrefix(imp, a+"/")
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
		for _, d := range []string{"google.golang.org/grpc", "github.com/hashicorp/memberlist", "github.com/spf13/cobra"} {
			if dep == d || strings.HasPrefix(dep, d+"/") {
				t.Errorf("%s depends on %s, which it must not", pkg, dep)
			}
		}
	}
}
