package conf

import (
	"bytes"
	_ "embed"
)

//go:embed local.yaml
var local []byte

// EmbeddedName is the name under which the embedded default config appears in errors.
const EmbeddedName = "conf/local.yaml (embedded)"

// Embedded returns a copy of the embedded default config file, conf/local.yaml: the run that
// `craft train` starts when given no --conf.
func Embedded() []byte { return bytes.Clone(local) }

// LoadDefault parses the embedded default config with the overrides sets. See Parse.
func LoadDefault(sets []string) (Config, error) { return Parse(EmbeddedName, local, sets) }
