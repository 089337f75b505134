//go:build !linux

package worker

// lowerThreadPriority does nothing where threads are not niced one by one.
func lowerThreadPriority(int) error { return nil }
