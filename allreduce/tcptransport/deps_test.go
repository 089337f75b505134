package tcptransport

import (
	"go/build"
	"strings"
	"testing"
)

// TestDeps holds the import rule of DESIGN.md: tcptransport imports the
// standard library and allreduce only (no grpc: it is the plain-TCP data
// plane), and allreduce/internal (same-host sockets, the key rule).
func TestDeps(t *testing.T) {
	pkg, err := build.ImportDir(".", 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range pkg.Imports {
		first, _, _ := strings.Cut(imp, "/")
		if !strings.Contains(first, ".") {
			continue
		}
		if imp != "github.com/craftml/craft/allreduce" && !strings.HasPrefix(imp, "github.com/craftml/craft/allreduce/internal/") {
			t.Errorf("tcptransport imports %q; want only the standard library and allreduce", imp)
		}
	}
}
