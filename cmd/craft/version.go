package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"
)

// version is the release, set at build time with -ldflags "-X main.version=v1.2.3"; when empty
// the module version from the build info is shown.
var version = ""

// newVersionCmd returns `craft version`.
func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version of craft, the Go version and the commit it was built from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info, _ := debug.ReadBuildInfo()
			_, err := fmt.Fprint(cmd.OutOrStdout(), versionText(version, info))
			return err
		},
	}
}

// versionText formats the version lines from the release and the build info (nil when the
// binary has none).
func versionText(release string, info *debug.BuildInfo) string {
	var b strings.Builder
	v := release
	if v == "" && info != nil {
		v = info.Main.Version
	}
	if v == "" {
		v = "(devel)"
	}
	fmt.Fprintf(&b, "craft %s\n", v)
	goVersion := runtime.Version()
	if info != nil && info.GoVersion != "" {
		goVersion = info.GoVersion
	}
	fmt.Fprintf(&b, "%s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	settings := map[string]string{}
	if info != nil {
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		b.WriteString("commit unknown (built without VCS information)\n")
		return b.String()
	}
	fmt.Fprintf(&b, "commit %s", rev)
	if settings["vcs.modified"] == "true" {
		b.WriteString(" (modified)")
	}
	if t := settings["vcs.time"]; t != "" {
		fmt.Fprintf(&b, " %s", t)
	}
	b.WriteByte('\n')
	return b.String()
}
