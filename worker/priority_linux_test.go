package worker

import (
	"runtime"
	"syscall"
	"testing"
)

// threadNice returns the niceness of the calling thread, or -100 if it
// cannot be read. (The raw getpriority syscall returns 20 - nice.)
func threadNice() int {
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, syscall.Gettid())
	if err != nil {
		return -100
	}
	return 20 - p
}

func TestLowerThreadPriorityNicesOnlyThatThread(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadNice()
	if before >= 19 {
		t.Skipf("the test already runs at niceness %d: nothing lower to set", before)
	}
	want := min(before+ComputeNiceDefault, 19)
	got := make(chan int, 1)
	errs := make(chan error, 1)
	go func() {
		if err := lowerThreadPriority(want); err != nil {
			errs <- err
			return
		}
		got <- threadNice()
	}()
	select {
	case err := <-errs:
		t.Fatalf("lowerThreadPriority(%d) = %v", want, err)
	case n := <-got:
		if n != want {
			t.Errorf("niceness of the lowered thread = %d; want %d", n, want)
		}
	}
	if n := threadNice(); n != before {
		t.Errorf("niceness of the caller's thread = %d after lowering another thread; want %d unchanged", n, before)
	}
	// The lowered thread left with its goroutine: a fresh goroutine locked to
	// a thread starts at the process's niceness.
	fresh := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		fresh <- threadNice()
	}()
	if n := <-fresh; n != before {
		t.Errorf("a new locked goroutine runs at niceness %d; want %d (the lowered thread must not be reused)", n, before)
	}
}

func TestLowerThreadPriorityZeroLeavesThreadAlone(t *testing.T) {
	done := make(chan int, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		before := threadNice()
		if err := lowerThreadPriority(0); err != nil {
			t.Error(err)
		}
		done <- threadNice() - before
	}()
	if d := <-done; d != 0 {
		t.Errorf("lowerThreadPriority(0) changed the niceness by %d", d)
	}
}
