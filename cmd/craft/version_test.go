package main

import (
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	goLine := "go1.26.8 " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	stamped := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0c41932abcdef"}, {Key: "vcs.time", Value: "2026-11-29T21:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	tests := []struct {
		name    string
		release string
		info    *debug.BuildInfo
		want    string
	}{
		{"stamped", "", stamped, "craft v0.3.0\n" + goLine + "commit 0c41932abcdef (modified) 2026-11-29T21:00:00Z\n"},
		{"release flag wins", "v1.0.0", stamped, "craft v1.0.0\n" + goLine + "commit 0c41932abcdef (modified) 2026-11-29T21:00:00Z\n"},
		{"no vcs", "", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"craft (devel)\n" + goLine + "commit unknown (built without VCS information)\n"},
		{"no build info", "", nil, "craft (devel)\n" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + "\ncommit unknown (built without VCS information)\n"},
	}
	for _, tc := range tests {
		if got := versionText(tc.release, tc.info); got != tc.want {
			t.Errorf("versionText(%s) =\n%s\nwant\n%s", tc.name, got, tc.want)
		}
	}
}

func TestVersionCommand(t *testing.T) {
	code, out, _ := craft(t, "version")
	if code != 0 || !strings.HasPrefix(out, "craft ") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("craft version = exit %d, %q; want exit 0, craft VERSION and %s", code, out, runtime.Version())
	}
}
