package e2e

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// craftBin is the craft binary TestMain built from this module's source.
var craftBin string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "craft-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	craftBin = filepath.Join(dir, "craft")
	start := time.Now()
	// Default flags, as `go test` compiles the packages with: in `go test ./...` only the
	// link is left to do. (make image in the Docker test builds its own static binary.)
	build := exec.Command("go", "build", "-o", craftBin, "github.com/craftml/craft/cmd/craft")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/craft: %v\n%s", err, out)
		return 1
	}
	if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "e2e: built %s in %s\n", craftBin, time.Since(start).Round(time.Millisecond))
	}
	return m.Run()
}
