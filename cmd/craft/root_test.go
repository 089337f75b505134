package main

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	code, out, _ := craft(t, "--help")
	if code != 0 {
		t.Fatalf("craft --help: exit %d; want 0", code)
	}
	for _, want := range []string{
		"Craft trains neural networks data-parallel across machines",
		"Available Commands:", "conf ", "version ", "--log-format", "--log-level",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("craft --help lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(strings.ToLower(out), "not implemented") {
		t.Errorf("craft --help mentions something not implemented:\n%s", out)
	}
	_, out, _ = craft(t, "bench", "--help")
	if !strings.Contains(out, "groups the benchmarks") {
		t.Errorf("craft bench --help = %q; want it to say it groups the benchmarks", out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string // start of stderr
	}{
		{[]string{"nope"}, `unknown command "nope" for "craft"`},
		{[]string{"conf", "show", "--sett", "x"}, "unknown flag: --sett\nRun 'craft conf show --help' for usage."},
		{[]string{"--log-format", "xml", "version"}, `--log-format "xml": want text or json`},
		{[]string{"--log-level", "loud", "version"}, `--log-level "loud": want debug, info, warn or error`},
	}
	for _, tc := range tests {
		code, out, errOut := craft(t, tc.args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, tc.want) {
			t.Errorf("craft %s = exit %d, stdout %q, stderr %q; want exit 1, no stdout, stderr starting %q",
				strings.Join(tc.args, " "), code, out, errOut, tc.want)
		}
	}
}

func TestNewLogger(t *testing.T) {
	tests := []struct {
		format, level string
		logAt         slog.Level
		want          string // substring of the output; "" = nothing logged
	}{
		{"text", "info", slog.LevelInfo, `level=INFO msg=hello k=v`},
		{"text", "info", slog.LevelDebug, ""},
		{"text", "DEBUG", slog.LevelDebug, `level=DEBUG msg=hello k=v`},
		{"text", "warn", slog.LevelInfo, ""},
		{"json", "error", slog.LevelError, `"level":"ERROR","msg":"hello","k":"v"`},
	}
	for _, tc := range tests {
		var b bytes.Buffer
		l, err := newLogger(&b, tc.format, tc.level)
		if err != nil {
			t.Fatalf("newLogger(%q, %q) error: %v", tc.format, tc.level, err)
		}
		l.Log(t.Context(), tc.logAt, "hello", "k", "v")
		got := b.String()
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("newLogger(%q, %q) logging at %v wrote %q; want %q", tc.format, tc.level, tc.logAt, got, tc.want)
		}
		if tc.format == "json" && !json.Valid(bytes.TrimSpace(b.Bytes())) {
			t.Errorf("newLogger(json) wrote %q; want one JSON object", got)
		}
	}
}

// TestLogFlags checks that the root's flags set the default logger that commands use.
func TestLogFlags(t *testing.T) {
	defer slog.SetDefault(slog.Default())
	code, _, errOut := craft(t, "--log-format", "json", "--log-level", "debug", "conf", "show")
	if code != 0 {
		t.Fatalf("craft conf show: exit %d, stderr %s", code, errOut)
	}
	if !strings.Contains(errOut, `"msg":"config loaded"`) || !json.Valid([]byte(strings.TrimSpace(errOut))) {
		t.Errorf("craft --log-format json --log-level debug conf show: stderr %q; want the config loaded debug record as JSON", errOut)
	}
}
