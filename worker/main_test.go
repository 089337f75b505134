package worker

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them. The
// compute thread pools of model and gemm live for the process.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/craftml/craft/model.(*pool).helper"),
		goleak.IgnoreAnyFunction("github.com/craftml/craft/model/gemm.(*worker).loop"),
	)
}
