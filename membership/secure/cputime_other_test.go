//go:build !linux

package secure

import "time"

var epoch = time.Now()

// cpuClock falls back on wall time where threads' CPU time is not at hand.
func cpuClock() time.Duration { return time.Since(epoch) }

func lockThread() func() { return func() {} }

// processCPU falls back on wall time.
func processCPU() time.Duration { return time.Since(epoch) }
