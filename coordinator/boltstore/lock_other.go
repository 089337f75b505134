//go:build !unix

package boltstore

import (
	"os"
	"time"
)

// lockShared does nothing where bolt does not use flock.
func lockShared(*os.File, time.Duration) error { return nil }
