package allreduce

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rule of DESIGN.md: allreduce (not its tests, not
// its subpackages) imports the standard library only.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if strings.Contains(first, ".") {
			t.Errorf("allreduce imports %q; want the standard library only", imp)
		}
	}
}
