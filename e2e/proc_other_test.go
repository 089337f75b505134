//go:build !linux

package e2e

import (
	"os"
	"syscall"
)

func sysProcAttr() *syscall.SysProcAttr { return nil }

// killGroup kills p (SIGKILL where there are signals).
func killGroup(p *os.Process) { _ = p.Kill() }
