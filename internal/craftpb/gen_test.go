package craftpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// protocLine is the header line naming protoc's version; another protoc
// release generates the same code under another header.
var protocLine = regexp.MustCompile(`(?m)^//\s*(-\s*)?protoc\s+v[0-9.]+\n`)

// TestGeneratedInSync regenerates the Go code from craft.proto with gen.sh
// (the pinned plugins) in a temporary directory and compares it with the
// committed files: an edit of craft.proto without `make proto` fails here.
func TestGeneratedInSync(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc is not installed (apt-get install -y protobuf-compiler): cannot check that the generated code matches craft.proto")
	}
	if testing.Short() {
		t.Skip("builds the protoc plugins; skipped in -short")
	}
	dir := t.TempDir()
	for _, f := range []string{"craft.proto", "gen.sh"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("sh", filepath.Join(dir, "gen.sh"))
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	for _, f := range []string{"craft.pb.go", "craft_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatalf("gen.sh wrote no %s: %v", f, err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, want = protocLine.ReplaceAll(got, nil), protocLine.ReplaceAll(want, nil)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what gen.sh generates from craft.proto: run `make proto` and commit the result", f)
		}
	}
}
