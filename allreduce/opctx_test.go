package allreduce

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestOpCtx(t *testing.T) {
	c := newOpCtx()
	child, cancelChild := context.WithCancel(c)
	defer cancelChild()
	ran := make(chan struct{})
	stop := context.AfterFunc(c, func() { close(ran) })
	stopped := context.AfterFunc(c, func() { t.Error("stopped AfterFunc ran") })
	if !stopped() {
		t.Fatalf("stop() = false; want true before cancel")
	}
	if c.Err() != nil || child.Err() != nil {
		t.Fatalf("Err() = %v, child %v; want nil before cancel", c.Err(), child.Err())
	}
	c.cancel()
	c.cancel()
	select {
	case <-child.Done():
	case <-time.After(time.Second):
		t.Fatalf("child of opCtx not cancelled")
	}
	select {
	case <-ran:
	case <-time.After(time.Second):
		t.Fatalf("AfterFunc did not run")
	}
	if stop() {
		t.Errorf("stop() after it ran = true; want false")
	}
	if !errors.Is(c.Err(), context.Canceled) || !errors.Is(child.Err(), context.Canceled) {
		t.Errorf("Err() = %v, child %v; want context.Canceled", c.Err(), child.Err())
	}
	late := make(chan struct{})
	context.AfterFunc(c, func() { close(late) })
	select {
	case <-late:
	case <-time.After(time.Second):
		t.Fatalf("AfterFunc on a done opCtx did not run")
	}
}

// TestOpCtxAfterFuncSlots: registrations reuse their slots without
// allocating, those beyond the slots still work, and cancel runs every
// pending one, slot or not, and none that was stopped.
func TestOpCtxAfterFuncSlots(t *testing.T) {
	c := newOpCtx()
	f := func() {}
	if n := testing.AllocsPerRun(100, func() {
		stop := c.AfterFunc(f)
		if !stop() {
			t.Fatal("stop() = false for a pending registration")
		}
	}); n != 0 {
		t.Errorf("AfterFunc + stop allocate %v times per call; want 0", n)
	}
	const n = afterSlots + 5
	ran := make(chan int, n)
	stops := make([]func() bool, n)
	for i := range n {
		stops[i] = c.AfterFunc(func() { ran <- i })
	}
	// Stop one in the slots and one beyond them.
	for _, i := range []int{3, afterSlots + 2} {
		if !stops[i]() {
			t.Errorf("stop() of registration %d = false; want true", i)
		}
	}
	c.cancel()
	got := map[int]bool{}
	for range n - 2 {
		select {
		case i := <-ran:
			got[i] = true
		case <-time.After(time.Second):
			t.Fatalf("after cancel only %d of %d registrations ran", len(got), n-2)
		}
	}
	if got[3] || got[afterSlots+2] {
		t.Errorf("stopped registrations ran: %v", got)
	}
	for i, stop := range stops {
		if i != 3 && i != afterSlots+2 && stop() {
			t.Errorf("stop() of registration %d after it ran = true; want false", i)
		}
	}
}
