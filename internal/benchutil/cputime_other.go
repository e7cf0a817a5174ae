//go:build !linux

package benchutil

import "time"

var started = time.Now()

// ThreadCPU falls back on wall time where threads' CPU time is not at hand.
func ThreadCPU() time.Duration { return time.Since(started) }

// ProcessCPU falls back on wall time too.
func ProcessCPU() time.Duration { return time.Since(started) }

// LockThread does nothing where ThreadCPU is wall time.
func LockThread() func() { return func() {} }
