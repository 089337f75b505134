package main

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: the
// local clusters must stop every coordinator and worker goroutine. The
// model's and optimizer's thread pools live for the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/craftml/craft/model.(*pool).helper"),
		goleak.IgnoreAnyFunction("github.com/craftml/craft/model/gemm.(*worker).loop"),
	)
}
