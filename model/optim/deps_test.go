package optim

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rule of DESIGN.md: optim imports the standard
// library and craft's model packages only.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatalf("build.ImportDir(.) error = %v", err)
	}
	for _, imp := range pkg.Imports {
		std := !strings.Contains(strings.Split(imp, "/")[0], ".")
		model := imp == "github.com/craftml/craft/model" || strings.HasPrefix(imp, "github.com/craftml/craft/model/")
		if !std && !model {
			t.Errorf("optim imports %q; want only the standard library and craft/model", imp)
		}
	}
}
