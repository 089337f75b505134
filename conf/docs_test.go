package conf

import (
	"bytes"
	"flag"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite ../docs/config.md from the schema")

const docPath = "../docs/config.md"

// TestConfigDoc fails when docs/config.md differs from what the schema's field comments give;
// `go generate ./conf` (or this test with -update) rewrites it.
func TestConfigDoc(t *testing.T) {
	got := configDoc(t)
	if *update {
		if err := os.WriteFile(docPath, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("%v; run `go generate ./conf`", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("docs/config.md is out of date with the schema in conf/config.go; run `go generate ./conf` and review the diff")
	}
}

// TestFieldDocs checks that every field has a comment and every enum value is documented.
func TestFieldDocs(t *testing.T) {
	docs, _ := fieldComments(t)
	for _, sec := range theSchema().sections {
		for _, f := range sec.fields {
			d := docs[f.goName]
			if d == "" {
				t.Errorf("field %s (%s) has no comment", f.goName, f.path)
			}
			for _, v := range enums[f.path] {
				if !strings.Contains(d, v) {
					t.Errorf("comment of %s does not mention the value %q", f.path, v)
				}
			}
		}
	}
	for path := range enums {
		if _, ok := theSchema().byPath[path]; !ok {
			t.Errorf("enums lists %s, which is not a key", path)
		}
	}
	for alias, path := range aliases {
		if _, ok := theSchema().byPath[path]; !ok {
			t.Errorf("aliases maps %s to %s, which is not a key", alias, path)
		}
	}
}

// fieldComments reads config.go and returns the comment of each field ("Train.Steps") and
// of each section type ("Train").
func fieldComments(t testing.TB) (fields, types map[string]string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	fields, types = map[string]string{}, map[string]string{}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			continue
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			types[ts.Name.Name] = oneLine(gd.Doc.Text())
			for _, fl := range st.Fields.List {
				for _, n := range fl.Names {
					fields[ts.Name.Name+"."+n.Name] = oneLine(fl.Doc.Text())
				}
			}
		}
	}
	return fields, types
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// exampleError returns the error of the example in the docs.
func exampleError(t testing.TB) string {
	_, err := Parse("bad.yaml", []byte(docExample), []string{"train.steps=abc"})
	if err == nil {
		t.Fatal("the docs' example parses without error")
	}
	return err.Error()
}

// configDoc renders docs/config.md.
func configDoc(t testing.TB) []byte {
	t.Helper()
	fields, types := fieldComments(t)
	var b bytes.Buffer
	b.WriteString(`# Configuration reference

<!-- Generated from the schema in conf/config.go by ` + "`go generate ./conf`" + `. Do not edit: a test fails when it drifts. -->

Every command that runs something reads one configuration: the YAML file given with ` + "`--conf FILE`" + `
(without it, the default built into the binary, [conf/local.yaml](../conf/local.yaml)), then the
` + "`--set SECTION.KEY=VALUE`" + ` overrides, applied in order. A file holds only the keys it changes;
every other key keeps the default listed below. ` + "`craft conf show [--conf FILE] [--set ...]`" + ` prints
the fully resolved configuration and its hash (the hash is recorded in checkpoints);
` + "`craft conf validate FILE...`" + ` checks files.

Decoding is strict, and every problem is reported at once, each with where it was given:

` + "```" + `
$ cat bad.yaml
` + docExample + `$ craft conf validate --conf bad.yaml --set train.steps=abc
` + exampleError(t) + `
` + "```" + `

- Numbers may be written ` + "`1e-3`" + ` or ` + "`1_000`" + `; an integer may be written as an integral float (` + "`2e3`" + `).
  A quoted number is a string, and a string where a number goes is an error.
- Booleans are ` + "`true`" + ` or ` + "`false`" + ` (not yes/no).
- ` + "`--set`" + ` values are read by the key's type, not as YAML: ` + "`--set run.name=yes`" + ` is the string
  "yes", and lists are written ` + "`--set model.hidden=[256,128]`" + ` (or ` + "`256,128`" + `, or ` + "`[]`" + `).
- Relative paths (` + "`data.path`" + `, ` + "`run.out_dir`" + `, ` + "`checkpoint.path`" + `) are relative to the working
  directory of the process, not to the config file: run the shipped configs from the repository root.
- Anchors and aliases work; merge keys (` + "`<<`" + `) and several documents in one file do not.

`)
	b.WriteString("## Shipped configurations\n\n| file | what it runs |\n|---|---|\n")
	shipped, err := filepath.Glob("*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range shipped {
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "| [conf/%s](../conf/%s) | %s |\n", name, name, headerComment(data))
	}
	def := reflect.ValueOf(Default())
	for _, sec := range theSchema().sections {
		fmt.Fprintf(&b, "\n## %s\n\n%s\n\n", sec.name, types[sec.goName])
		b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
		for _, f := range sec.fields {
			fmt.Fprintf(&b, "| `%s` | %s | `%s` | %s |\n", f.path, f.kind.name(),
				encodeValue(def.FieldByIndex(f.index), f.kind), strings.ReplaceAll(fields[f.goName], "|", `\|`))
		}
	}
	return b.Bytes()
}

// headerComment returns the first line of the comment that opens a YAML file.
func headerComment(data []byte) string {
	first, _, _ := strings.Cut(string(data), "\n")
	if !strings.HasPrefix(first, "#") {
		return ""
	}
	return strings.ReplaceAll(strings.TrimSpace(strings.TrimPrefix(first, "#")), "|", `\|`)
}

// docExample is the bad file of the example in docs/config.md; the error shown there is the one
// Parse returns for it.
const docExample = `model:
  n_embd: 100
  n_head: 3
train:
  lerning_rate: 1e-3
`
