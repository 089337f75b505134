// Package conf is Craft's configuration: the schema every command reads (Config and its
// sections), the default of every field (Default), strict YAML decoding that names the file,
// line and column of each problem, overrides from the command line ("--set train.steps=500"),
// validation that reports every problem at once, and the canonical YAML form and hash of a
// resolved config (the hash goes into checkpoints).
//
// Usage:
//
//	c, err := conf.Load("conf/cluster.yaml", []string{"train.steps=500"})
//	if err != nil {
//		return err // one problem per line: "conf/cluster.yaml:7:3: unknown key ..."
//	}
//	fmt.Printf("%s# hash: sha256:%s\n", c.YAML(), c.Hash())
//
// A file need only hold the keys that differ from Default; every other key keeps its default.
// Unknown keys are errors, with a suggestion when a key is close to a known one (or is the
// name nanoGPT or PyTorch give it: max_iters, batch_size, lr...). Numbers may be written 1e-3 or
// 1_000; integers may be written as integral floats (2e3). Relative paths (data.path,
// run.out_dir, checkpoint.path) are relative to the working directory of the process, not to
// the config file.
//
// The shipped configs live next to this package: local.yaml (embedded; see Embedded and
// LoadDefault), cluster.yaml, shakespeare-baby.yaml and digits-mlp.yaml. The reference of every
// key, docs/config.md, is generated from the field comments of Config by `go generate`.
//
// conf imports only the standard library and the YAML parser (github.com/goccy/go-yaml); it
// is imported by cmd, coordinator and worker alone.
package conf

//go:generate go test -run TestConfigDoc -update .
