package model

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rule of DESIGN.md: model uses the standard
// library, gonum, gorgonia.org/tensor, math32 and its own subpackages only.
func TestDeps(t *testing.T) {
	for _, dir := range []string{"."} { // optim and gemm hold their own rules
		pkg, err := build.ImportDir(dir, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				continue
			}
			t.Fatal(err)
		}
		for _, imp := range pkg.Imports {
			if !allowedImport(imp) {
				t.Errorf("package %s imports %s; model may import only std, gonum, gorgonia.org/tensor, math32 and model/...", dir, imp)
			}
		}
	}
}

func allowedImport(imp string) bool {
	first := strings.SplitN(imp, "/", 2)[0]
	switch {
	case !strings.Contains(first, "."): // standard library
		return true
	case strings.HasPrefix(imp, "gonum.org/v1/gonum/"),
		imp == "gorgonia.org/tensor",
		imp == "github.com/chewxy/math32",
		imp == "github.com/craftml/craft/model",
		strings.HasPrefix(imp, "github.com/craftml/craft/model/"):
		return true
	}
	return false
}
