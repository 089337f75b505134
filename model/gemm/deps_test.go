package gemm

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rules of the package: the standard library and
// golang.org/x/sys/cpu; tests may also use gonum and goleak.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("build.ImportDir(.) = %v", err)
	}
	allowed := func(path string, test bool) bool {
		if !strings.Contains(strings.Split(path, "/")[0], ".") {
			return true // standard library
		}
		if path == "golang.org/x/sys/cpu" || (test && path == "github.com/craftml/craft/model/gemm") {
			return true
		}
		return test && (strings.HasPrefix(path, "gonum.org/v1/gonum/") || path == "go.uber.org/goleak")
	}
	for _, p := range pkg.Imports {
		if !allowed(p, false) {
			t.Errorf("gemm imports %q; want only the standard library and golang.org/x/sys/cpu", p)
		}
	}
	for _, p := range append(pkg.TestImports, pkg.XTestImports...) {
		if !allowed(p, true) {
			t.Errorf("gemm tests import %q; want only the standard library, x/sys/cpu, gonum and goleak", p)
		}
	}
}
