package grpctransport

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rule of DESIGN.md: grpctransport imports the
// standard library, grpc, protobuf and allreduce (with its internal packages);
// nothing else of Craft.
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	allowed := []string{
		"google.golang.org/grpc",
		"google.golang.org/protobuf",
		"github.com/craftml/craft/allreduce",
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") {
			continue
		}
		ok := false
		for _, a := range allowed {
			if imp == a || strings.HasPrefix(imp, a+"/") {
				ok = ok || a != "github.com/craftml/craft/allreduce" || imp == a || strings.HasPrefix(imp, "github.com/craftml/craft/allreduce/grpctransport/") || strings.HasPrefix(imp, "github.com/craftml/craft/allreduce/internal/")
			}
		}
		if !ok {
			t.Errorf("grpctransport imports %q; want only the standard library, grpc, protobuf and allreduce", imp)
		}
	}
}
