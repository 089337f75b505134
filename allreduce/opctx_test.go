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
