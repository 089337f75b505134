package membership

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDeps holds the import rules of DESIGN.md: membership is the only
// package that imports memberlist, and it imports nothing else outside the
// standard library (no craft package, no grpc, no bbolt).
func TestDeps(t *testing.T) {
	const pkg = "github.com/craftml/craft/internal/membership"
	out, err := exec.Command("go", "list", "-f", "{{join .Imports \"\\n\"}}", pkg).Output()
	if err != nil {
		t.Fatalf("go list %s: %v", pkg, err)
	}
	for _, imp := range strings.Fields(string(out)) {
		if strings.Contains(strings.Split(imp, "/")[0], ".") && imp != "github.com/hashicorp/memberlist" {
			t.Errorf("%s imports %s; want the standard library and memberlist only", pkg, imp)
		}
	}
	out, err = exec.Command("go", "list", "-deps", pkg).Output()
	if err != nil {
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, d := range []string{"github.com/craftml/craft/", "google.golang.org/grpc", "go.etcd.io/bbolt", "github.com/spf13/cobra"} {
			if strings.HasPrefix(dep, d) && dep != pkg {
				t.Errorf("%s depends on %s, which it must not", pkg, dep)
			}
		}
	}
}
